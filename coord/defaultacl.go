package coord

import (
	"context"
	"fmt"
	"slices"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
)

// Default privileges (ALTER DEFAULT PRIVILEGES), as PostgreSQL has them:
// an entry gives the ACL that objects of a kind ("table" for every
// relation, "schema") created by a role start with. An entry for any
// schema replaces the owner's default; entries for the schema an object
// is created in add to it. Entries are durable ("default_acl" records
// hold an entry's whole new ACL) and applied when an object is created,
// replay included (the records come in the order they were made).

// defaultACL is one entry.
type defaultACL struct {
	Role   uint32    `json:"role"`
	Schema string    `json:"schema,omitempty"` // "" for any schema
	Kind   string    `json:"kind"`             // "table" or "schema"
	ACL    []aclItem `json:"acl"`
}

// defaultKind is the kind of default privileges objects of kind get.
func defaultKind(kind sql.ItemKind) string {
	if kind.IsRelation() {
		return "table"
	}
	return ""
}

// initialACL is the ACL an object of kind created by owner in schema
// starts with: nil (the owner's alone) when no entry applies.
func (cat *catalog) initialACL(owner uint32, schema, kind string) []aclItem {
	if kind == "" {
		return nil
	}
	var acl []aclItem
	found := false
	for _, d := range cat.defaultACLs {
		if d.Role == owner && d.Kind == kind && d.Schema == "" {
			acl, found = cloneACL(d.ACL), true
		}
	}
	for _, d := range cat.defaultACLs {
		if d.Role != owner || d.Kind != kind || d.Schema == "" || d.Schema != schema {
			continue
		}
		if !found {
			acl, found = []aclItem{{Grantee: owner, Grantor: owner, Privs: kindPrivileges(kind)}}, true
		}
		for _, a := range d.ACL {
			acl = grantACL(acl, a.Grantee, a.Grantor, a.Privs, false)
			if a.Grant != 0 {
				acl = grantACL(acl, a.Grantee, a.Grantor, a.Grant, true)
			}
		}
	}
	if acl == nil && found {
		acl = []aclItem{}
	}
	return acl
}

// maskACL keeps of acl the privileges in all (a view created under
// default privileges for tables gets SELECT alone).
func maskACL(acl []aclItem, all aclMode) []aclItem {
	if acl == nil {
		return nil
	}
	out := []aclItem{}
	for _, a := range acl {
		a.Privs &= all
		a.Grant &= all
		if a.Privs != 0 {
			out = append(out, a)
		}
	}
	return out
}

// putDefaultACL installs an entry (an empty schema entry, or an any-schema
// entry equal to the owner's default, removes it).
func (cat *catalog) putDefaultACL(d defaultACL) {
	cat.defaultACLs = slices.DeleteFunc(cat.defaultACLs, func(x *defaultACL) bool {
		return x.Role == d.Role && x.Schema == d.Schema && x.Kind == d.Kind
	})
	ownerDefault := []aclItem{{Grantee: d.Role, Grantor: d.Role, Privs: kindPrivileges(d.Kind)}}
	if d.Schema != "" && len(d.ACL) == 0 || d.Schema == "" && slices.Equal(d.ACL, ownerDefault) {
		return
	}
	cat.defaultACLs = append(cat.defaultACLs, &d)
	cat.version++
}

func (c *Coordinator) alterDefaultPrivileges(ctx context.Context, s *session, p *sql.AlterDefaultPrivilegesPlan) error {
	actor := s.actorLocked()
	g := p.Grant
	if g.Kind == "schema" && len(p.Schemas) > 0 {
		return pgcode.New(pgcode.InvalidGrantOperation, "cannot use IN SCHEMA clause when using GRANT/REVOKE ON SCHEMAS")
	}
	var roles []*role
	if len(p.Roles) == 0 {
		if actor == nil {
			return pgcode.New(pgcode.InsufficientPrivilege, "permission denied to change default privileges")
		}
		roles = []*role{actor}
	}
	for _, n := range p.Roles {
		r := c.cat.roleByName(n)
		if r == nil {
			return pgcode.New(pgcode.UndefinedObject, "role %q does not exist", n)
		}
		if !c.cat.isMemberOf(actor, r.OID) {
			return pgcode.New(pgcode.InsufficientPrivilege, "permission denied to change default privileges")
		}
		roles = append(roles, r)
	}
	schemas := p.Schemas
	for _, n := range schemas {
		if c.cat.schemas[n] == nil {
			return pgcode.New(pgcode.InvalidSchemaName, "schema %q does not exist", n)
		}
	}
	if len(schemas) == 0 {
		schemas = []string{""}
	}
	want, err := parsePrivileges(g.Privileges, g.Kind)
	if err != nil {
		return err
	}
	grantees, err := c.cat.granteeOIDs(g.Grantees)
	if err != nil {
		return err
	}
	for _, r := range roles {
		for _, sc := range schemas {
			d := defaultACL{Role: r.OID, Schema: sc, Kind: g.Kind}
			found := false
			for _, x := range c.cat.defaultACLs {
				if x.Role == d.Role && x.Schema == d.Schema && x.Kind == d.Kind {
					d.ACL, found = cloneACL(x.ACL), true
				}
			}
			if !found && sc == "" {
				d.ACL = []aclItem{{Grantee: r.OID, Grantor: r.OID, Privs: kindPrivileges(g.Kind)}}
			}
			for _, ge := range grantees {
				if g.Grant {
					d.ACL = grantACL(d.ACL, ge, r.OID, want, g.GrantOption)
					continue
				}
				if d.ACL, err = revokeACL(d.ACL, ge, r.OID, want, g.GrantOption, true, r.OID); err != nil {
					return err
				}
			}
			if d.ACL == nil {
				d.ACL = []aclItem{}
			}
			if err := c.persistLocked(ctx, catalogRecord{Op: "default_acl", Default: &d}); err != nil {
				return err
			}
			ctx = context.WithoutCancel(ctx)
			c.cat.putDefaultACL(d)
		}
	}
	return nil
}

// defaultACLDependencies lists the default privileges that keep role oid
// from being dropped.
func (cat *catalog) defaultACLDependencies(oid uint32) []string {
	var out []string
	for _, d := range cat.defaultACLs {
		what := "new relations"
		if d.Kind == "schema" {
			what = "new schemas"
		}
		where := ""
		if d.Schema != "" {
			where = " in schema " + d.Schema
		}
		switch {
		case d.Role == oid:
			out = append(out, fmt.Sprintf("owner of default privileges on %s belonging to role %s%s", what, cat.roleName(d.Role), where))
		case aclMentions(d.ACL, oid):
			out = append(out, fmt.Sprintf("privileges for default privileges on %s belonging to role %s%s", what, cat.roleName(d.Role), where))
		}
	}
	return out
}

// dropDefaultACLsLocked forgets, durably, the default privileges of roles
// and those granted to them (DROP OWNED).
func (c *Coordinator) dropDefaultACLsLocked(ctx context.Context, roles map[uint32]bool) error {
	for _, d := range slices.Clone(c.cat.defaultACLs) {
		nd := defaultACL{Role: d.Role, Schema: d.Schema, Kind: d.Kind}
		if !roles[d.Role] {
			for _, a := range d.ACL {
				if !roles[a.Grantee] {
					nd.ACL = append(nd.ACL, a)
				}
			}
			if len(nd.ACL) == len(d.ACL) {
				continue
			}
		}
		if nd.ACL == nil {
			nd.ACL = []aclItem{}
		}
		if roles[d.Role] && d.Schema == "" {
			// Back to the owner's default: the entry goes.
			nd.ACL = []aclItem{{Grantee: d.Role, Grantor: d.Role, Privs: kindPrivileges(d.Kind)}}
		}
		if err := c.persistLocked(ctx, catalogRecord{Op: "default_acl", Default: &nd}); err != nil {
			return err
		}
		c.cat.putDefaultACL(nd)
	}
	return nil
}

// pgDefaultACLRows is pg_catalog.pg_default_acl.
func pgDefaultACLRows(c *Coordinator) [][]repr.Datum {
	var out [][]repr.Datum
	for i, d := range c.cat.defaultACLs {
		ns, typ := uint32(0), "r"
		if sc := c.cat.schemas[d.Schema]; sc != nil {
			ns = sc.oid
		}
		if d.Kind == "schema" {
			typ = "n"
		}
		out = append(out, []repr.Datum{oid(defaultACLOIDBase + uint32(i)), oid(d.Role), oid(ns), text(typ), aclDatum(c.cat, d.ACL)})
	}
	return out
}

// defaultACLOIDBase numbers pg_default_acl's rows.
const defaultACLOIDBase = 0x7e000000
