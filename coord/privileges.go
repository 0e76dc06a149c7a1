package coord

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
)

// Privileges, as PostgreSQL defines them. Every item and schema has an
// owner (the role whose session created it) and an access control list
// of aclItems (grantee, grantor, privileges, and those the grantee may
// grant on). A nil ACL means the owner's privileges alone; the first
// GRANT writes the owner's entry out, as PostgreSQL does, so that
// pg_class.relacl reads {viewd=arwd/viewd,alice=r/viewd}.
//
// A role holds a privilege on an object when it is a superuser, when it
// has the privileges of the owner (it is the owner, or inherits from it),
// or when an ACL entry grants it to PUBLIC or to a role whose privileges
// it has. Owners always hold every privilege of their objects (viewd does
// not let an owner revoke its own). Only owners may ALTER, DROP or GRANT
// (unless granted WITH GRANT OPTION) and only owners may index a
// relation. Reading a view needs SELECT on the view, and its owner's
// SELECT on what the view reads (checked again at each read, as
// PostgreSQL does); a materialized view's owner's rights are checked when
// it is created. System objects (pg_catalog and the like) are readable by
// everyone; their schemas usable by everyone.
//
// The privileges of an object depend on its kind, by the kind's name, so
// that a new kind of item (a secret) gets them by being an item: tables
// SELECT, INSERT, UPDATE, DELETE; views, materialized views and sources
// SELECT; connections and secrets USAGE; schemas USAGE and CREATE.
// Creating an item needs CREATE on its schema; a source also needs USAGE
// on its connection; a schema needs the CREATEDB attribute (viewd's one
// database stands for PostgreSQL's CREATE on the database).
//
// Changes are durable: an "acl" record holds an object's whole new ACL,
// an "owner" record its new owner (create records carry the creator).

// aclMode is a set of privileges.
type aclMode uint16

const (
	privInsert aclMode = 1 << iota
	privSelect
	privUpdate
	privDelete
	privUsage
	privCreate
)

// privileges in PostgreSQL's aclitem order, with their letters.
var privileges = [...]struct {
	mode   aclMode
	letter byte
	name   string
}{
	{privInsert, 'a', "INSERT"}, {privSelect, 'r', "SELECT"}, {privUpdate, 'w', "UPDATE"}, {privDelete, 'd', "DELETE"},
	{privUsage, 'U', "USAGE"}, {privCreate, 'C', "CREATE"},
}

// aclItem is one entry of an ACL.
type aclItem struct {
	Grantee uint32  `json:"grantee"` // publicRoleOID for PUBLIC
	Grantor uint32  `json:"grantor"`
	Privs   aclMode `json:"privs"`
	// Grant are the privileges the grantee may grant in turn (a subset
	// of Privs).
	Grant aclMode `json:"grant,omitempty"`
}

// text prints an entry as PostgreSQL's aclitem: grantee=privs/grantor,
// with * after each grantable privilege and an empty grantee for PUBLIC.
func (a aclItem) text(cat *catalog) string {
	var b strings.Builder
	b.WriteString(quoteACLName(cat.roleName(a.Grantee)))
	b.WriteByte('=')
	for _, p := range privileges {
		if a.Privs&p.mode != 0 {
			b.WriteByte(p.letter)
			if a.Grant&p.mode != 0 {
				b.WriteByte('*')
			}
		}
	}
	b.WriteByte('/')
	b.WriteString(quoteACLName(cat.roleName(a.Grantor)))
	return b.String()
}

// quoteACLName quotes a role name in aclitem text as PostgreSQL does
// (names with characters other than letters, digits and _).
func quoteACLName(n string) string {
	for _, r := range n {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r > 127) {
			return `"` + strings.ReplaceAll(n, `"`, `""`) + `"`
		}
	}
	return n
}

// kindPrivileges are the privileges objects of a kind (by name) have.
func kindPrivileges(kind string) aclMode {
	switch kind {
	case "table":
		return privSelect | privInsert | privUpdate | privDelete
	case "view", "materialized view", "source":
		return privSelect
	case "connection", "secret":
		return privUsage
	case "schema":
		return privUsage | privCreate
	}
	return 0
}

// aclTarget is an object whose privileges a statement checks or changes.
type aclTarget struct {
	kind string // "table", "view", ..., "schema"
	name string // unqualified, as PostgreSQL's messages name it
	it   *item
	sc   *schema
}

func itemTarget(it *item) aclTarget {
	return aclTarget{kind: it.Kind.String(), name: it.Name.Item, it: it}
}
func schemaTarget(s *schema) aclTarget { return aclTarget{kind: "schema", name: s.name, sc: s} }

func (t aclTarget) owner() uint32 {
	if t.it != nil {
		return t.it.owner
	}
	return t.sc.owner
}

func (t aclTarget) acl() []aclItem {
	if t.it != nil {
		return t.it.acl
	}
	return t.sc.acl
}

func (t aclTarget) system() bool {
	if t.it != nil {
		return t.it.system
	}
	return t.sc.system
}

// held returns the privileges r holds on t, and those it may grant.
func (cat *catalog) held(r *role, t aclTarget) (privs, grantable aclMode) {
	all := kindPrivileges(t.kind)
	if r == nil {
		return 0, 0
	}
	if r.Super {
		return all, all
	}
	if t.system() {
		// Everyone may read the system catalog and use its schemas.
		return all & (privSelect | privUsage), 0
	}
	roles := cat.memberOf(r, true)
	if roles[t.owner()] {
		return all, all
	}
	for _, a := range t.acl() {
		if a.Grantee == publicRoleOID || roles[a.Grantee] {
			privs |= a.Privs
			grantable |= a.Grant
		}
	}
	return privs & all, grantable & all
}

// require checks that r holds want on t: 42501 "permission denied for
// table t" otherwise.
func (cat *catalog) require(r *role, t aclTarget, want aclMode) error {
	if have, _ := cat.held(r, t); have&want == want {
		return nil
	}
	return pgcode.New(pgcode.InsufficientPrivilege, "permission denied for %s %s", t.kind, t.name)
}

// requireOwner checks that r has the privileges of t's owner: 42501
// "must be owner of table t" otherwise.
func (cat *catalog) requireOwner(r *role, t aclTarget) error {
	if !t.system() && cat.hasPrivsOfRole(r, t.owner()) {
		return nil
	}
	return pgcode.New(pgcode.InsufficientPrivilege, "must be owner of %s %s", t.kind, t.name)
}

// requireRead checks that r may read the items ids: USAGE on each one's
// schema and SELECT on it; for a view, also its owner's SELECT on what
// the view reads (at any depth).
func (cat *catalog) requireRead(r *role, ids []plan.GlobalID) error {
	return cat.requireReadDepth(r, ids, 0)
}

func (cat *catalog) requireReadDepth(r *role, ids []plan.GlobalID, depth int) error {
	if depth > 64 {
		return pgcode.New(pgcode.ProgramLimitExceeded, "views nest too deeply")
	}
	for _, id := range ids {
		it := cat.items[id]
		if it == nil || it.system || !it.Kind.IsRelation() {
			continue
		}
		if err := cat.requireUsage(r, it); err != nil {
			return err
		}
		if err := cat.require(r, itemTarget(it), privSelect); err != nil {
			return err
		}
		if it.Kind == sql.KindView {
			if err := cat.requireReadDepth(cat.roles[it.owner], it.deps, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// requireUsage checks USAGE on the schema of it.
func (cat *catalog) requireUsage(r *role, it *item) error {
	if sc := cat.schemas[it.Name.Schema]; sc != nil {
		return cat.require(r, schemaTarget(sc), privUsage)
	}
	return nil
}

// requireWrite checks that r may write table it with want (INSERT,
// UPDATE or DELETE, and SELECT when the statement reads it), and read
// the other items the statement reads.
func (cat *catalog) requireWrite(r *role, it *item, want aclMode, deps []plan.GlobalID) error {
	if it == nil {
		return nil
	}
	if err := cat.requireUsage(r, it); err != nil {
		return err
	}
	if err := cat.require(r, itemTarget(it), want); err != nil {
		return err
	}
	others := make([]plan.GlobalID, 0, len(deps))
	for _, d := range deps {
		if d != it.ID {
			others = append(others, d)
		}
	}
	return cat.requireRead(r, others)
}

// authorizeLocked checks the privileges a plan's execution needs, as the
// session's current role (DDL is checked where it runs, with the objects
// it resolves).
func (s *session) authorizeLocked(p sql.Plan) error {
	r := s.actorLocked()
	if r != nil && r.Super {
		return nil
	}
	cat := s.c.cat
	item := func(ci *sql.CatalogItem) *item {
		if ci == nil {
			return nil
		}
		return cat.items[ci.ID]
	}
	switch p := p.(type) {
	case *sql.SelectPlan:
		return cat.requireRead(r, p.Query.DependsOn)
	case *sql.SubscribePlan:
		return s.authorizeSubscribe(r, p)
	case *sql.InsertPlan:
		want := privInsert
		if p.Returning != nil {
			want |= privSelect
		}
		if p.OnConflict != nil && !p.OnConflict.DoNothing {
			want |= privUpdate
		}
		return cat.requireWrite(r, item(p.Table), want, p.DependsOn)
	case *sql.UpdatePlan:
		want := privUpdate
		if p.ReadsTarget {
			want |= privSelect
		}
		return cat.requireWrite(r, item(p.Table), want, p.DependsOn)
	case *sql.DeletePlan:
		want := privDelete
		if p.ReadsTarget {
			want |= privSelect
		}
		return cat.requireWrite(r, item(p.Table), want, p.DependsOn)
	case *sql.CopyFromPlan:
		return cat.requireWrite(r, item(p.Table), privInsert, nil)
	case *sql.CopyToPlan:
		if p.Query != nil {
			return cat.requireRead(r, p.Query.DependsOn)
		}
		return s.authorizeSubscribe(r, p.Subscribe)
	case *sql.DeclarePlan:
		if p.Query != nil {
			return cat.requireRead(r, p.Query.DependsOn)
		}
		return s.authorizeSubscribe(r, p.Subscribe)
	case *sql.ExplainPlan:
		// The explained statement's checks, and reading its query (a
		// CREATE MATERIALIZED VIEW's is checked only when it runs).
		if p.Inner != nil {
			if err := s.authorizeLocked(p.Inner); err != nil {
				return err
			}
		}
		if p.Query != nil {
			return cat.requireRead(r, p.Query.DependsOn)
		}
	}
	return nil
}

func (s *session) authorizeSubscribe(r *role, p *sql.SubscribePlan) error {
	if p == nil {
		return nil
	}
	ids := p.Query.DependsOn
	if p.Object != nil {
		ids = append([]plan.GlobalID{p.Object.ID}, ids...)
	}
	return s.c.cat.requireRead(r, ids)
}

// authorize is authorizeLocked under the coordinator's lock, which a
// superuser's statement does not take (the published login facts say it
// is one).
func (s *session) authorize(p sql.Plan) error {
	if l, err := s.c.LoginRole(sql.CurrentUser(s.vars.snapshot())); err == nil && l.Superuser {
		return nil
	}
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.authorizeLocked(p)
}

// ddlActorLocked returns the role the running DDL acts as, and whether
// its privileges are to be checked: they are not while the catalog is
// replayed, nor for the coordinator's own changes (no session).
func (c *Coordinator) ddlActorLocked() (*role, bool) {
	if c.replaying != nil || c.ddlSession == nil {
		return nil, false
	}
	return c.ddlSession.actorLocked(), true
}

// checkCreateLocked checks that the running DDL may create in schema.
func (c *Coordinator) checkCreateLocked(schemaName string) error {
	r, check := c.ddlActorLocked()
	sc := c.cat.schemas[schemaName]
	if !check || sc == nil {
		return nil
	}
	return c.cat.require(r, schemaTarget(sc), privCreate)
}

// checkOwnerLocked checks that the running DDL may alter or drop it.
func (c *Coordinator) checkOwnerLocked(t aclTarget) error {
	r, check := c.ddlActorLocked()
	if !check {
		return nil
	}
	return c.cat.requireOwner(r, t)
}

// checkReadLocked checks that the running DDL may read ids (a view's
// inputs).
func (c *Coordinator) checkReadLocked(ids []plan.GlobalID) error {
	r, check := c.ddlActorLocked()
	if !check {
		return nil
	}
	return c.cat.requireRead(r, ids)
}

// checkUsageLocked checks that the running DDL may use it (a source's
// connection): USAGE on its schema and on it.
func (c *Coordinator) checkUsageLocked(it *item) error {
	r, check := c.ddlActorLocked()
	if !check || it == nil {
		return nil
	}
	if err := c.cat.requireUsage(r, it); err != nil {
		return err
	}
	return c.cat.require(r, itemTarget(it), privUsage)
}

// checkCreateSchemaLocked checks that the running DDL may create a
// schema: superusers and roles with CREATEDB may.
func (c *Coordinator) checkCreateSchemaLocked() error {
	r, check := c.ddlActorLocked()
	if !check || r != nil && (r.Super || r.CreateDB) {
		return nil
	}
	return pgcode.New(pgcode.InsufficientPrivilege, "permission denied for database %s", defaultDatabase).
		WithHint("Creating schemas needs the CREATEDB attribute.")
}

// grantTargetsLocked resolves the objects of a GRANT or REVOKE.
func (c *Coordinator) grantTargetsLocked(p *sql.GrantPlan) ([]aclTarget, error) {
	var out []aclTarget
	relation := func(it *item) bool { return it.Kind.IsRelation() }
	for _, n := range p.Objects {
		switch {
		case p.Kind == "schema" || p.AllInSchema:
			sc := c.cat.schemas[n.Item]
			if sc == nil {
				return nil, pgcode.New(pgcode.InvalidSchemaName, "schema %q does not exist", n.Item)
			}
			if !p.AllInSchema {
				out = append(out, schemaTarget(sc))
				continue
			}
			ids := make([]plan.GlobalID, 0, len(sc.items))
			for _, id := range sc.items {
				ids = append(ids, id)
			}
			sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
			for _, id := range ids {
				if it := c.cat.items[id]; it != nil && relation(it) {
					out = append(out, itemTarget(it))
				}
			}
		default:
			it, err := c.cat.resolve(n, c.searchPathFor(n))
			if err != nil {
				return nil, err
			}
			if p.Kind == "table" && !relation(it) || p.Kind != "table" && it.Kind.String() != p.Kind {
				return nil, pgcode.New(pgcode.WrongObjectType, "%q is not a %s", it.Name.Item, p.Kind)
			}
			out = append(out, itemTarget(it))
		}
	}
	for _, t := range out {
		if t.system() {
			return nil, pgcode.New(pgcode.InsufficientPrivilege, "cannot change the privileges of system object %s", t.name)
		}
	}
	return out, nil
}

// parsePrivileges turns privilege names into a mode for objects of kind;
// nil names mean ALL.
func parsePrivileges(names []string, kind string) (aclMode, error) {
	all := kindPrivileges(kind)
	if names == nil {
		return all, nil
	}
	var m aclMode
	for _, n := range names {
		found := false
		for _, p := range privileges {
			if p.name == n {
				found = true
				if all&p.mode == 0 {
					return 0, pgcode.New(pgcode.InvalidGrantOperation, "invalid privilege type %s for %s", n, kind)
				}
				m |= p.mode
			}
		}
		if !found {
			return 0, pgcode.New(pgcode.SyntaxError, "unrecognized privilege type %q", strings.ToLower(n))
		}
	}
	return m, nil
}

// granteeOIDs resolves grantees (PUBLIC to publicRoleOID).
func (cat *catalog) granteeOIDs(names []string) ([]uint32, error) {
	var out []uint32
	for _, n := range names {
		if n == sql.PublicRole {
			out = append(out, publicRoleOID)
			continue
		}
		r := cat.roleByName(n)
		if r == nil {
			return nil, pgcode.New(pgcode.UndefinedObject, "role %q does not exist", n)
		}
		out = append(out, r.OID)
	}
	return out, nil
}

// grant runs GRANT and REVOKE of privileges on objects.
func (c *Coordinator) grant(ctx context.Context, s *session, p *sql.GrantPlan) error {
	actor := s.actorLocked()
	grantees, err := c.cat.granteeOIDs(p.Grantees)
	if err != nil {
		return err
	}
	targets, err := c.grantTargetsLocked(p)
	if err != nil {
		return err
	}
	type change struct {
		t   aclTarget
		acl []aclItem
	}
	var changes []change
	for _, t := range targets {
		want, err := parsePrivileges(p.Privileges, t.kind)
		if err != nil {
			return err
		}
		// The grantor: the owner when the actor has its privileges (as
		// PostgreSQL records a superuser's or member's grant), otherwise
		// the actor, for the privileges it may grant.
		grantor := t.owner()
		if !c.cat.hasPrivsOfRole(actor, t.owner()) {
			var grantable aclMode
			grantor, grantable = c.cat.bestGrantor(actor, t, want)
			if grantable&want == 0 {
				return pgcode.New(pgcode.InsufficientPrivilege, "permission denied for %s %s", t.kind, t.name)
			}
			if grantable&want != want && c.notice != nil {
				verb := "granted"
				if !p.Grant {
					verb = "revoked"
				}
				c.notice(&pgcode.Error{Code: pgcode.Warning, Severity: pgcode.SeverityWarning,
					Message: fmt.Sprintf("not all privileges were %s for %q", verb, t.name)})
			}
			want &= grantable
		}
		acl := cloneACL(t.acl())
		if acl == nil {
			// The owner's entry, as PostgreSQL's acldefault writes it: its
			// grant options are implicit.
			acl = []aclItem{{Grantee: t.owner(), Grantor: t.owner(), Privs: kindPrivileges(t.kind)}}
		}
		for _, g := range grantees {
			if p.Grant {
				acl = grantACL(acl, g, grantor, want, p.GrantOption)
				continue
			}
			if acl, err = revokeACL(acl, g, grantor, want, p.GrantOption, p.Cascade, t.owner()); err != nil {
				return err
			}
		}
		changes = append(changes, change{t: t, acl: acl})
	}
	for _, ch := range changes {
		if err := c.setACLLocked(ctx, ch.t, ch.acl); err != nil {
			return err
		}
		// Once one record is durable the statement completes.
		ctx = context.WithoutCancel(ctx)
	}
	return nil
}

// record is a catalog record of op about t.
func (t aclTarget) record(op string) catalogRecord {
	rec := catalogRecord{Op: op}
	if t.it != nil {
		rec.ID = t.it.ID
	} else {
		rec.Schema = t.sc.name
	}
	return rec
}

// setACLLocked gives t a new ACL durably.
func (c *Coordinator) setACLLocked(ctx context.Context, t aclTarget, acl []aclItem) error {
	rec := t.record("acl")
	rec.ACL = acl
	if err := c.persistLocked(ctx, rec); err != nil {
		return err
	}
	t.setACL(acl)
	c.cat.version++
	return nil
}

// bestGrantor chooses, as PostgreSQL's select_best_grantor does, the
// role a non-owner grants as: among r and the roles whose privileges it
// has, the one holding the grant option on the most of want (r itself on
// a tie); it returns that role and the privileges it may grant.
func (cat *catalog) bestGrantor(r *role, t aclTarget, want aclMode) (uint32, aclMode) {
	if r == nil {
		return 0, 0
	}
	roles := cat.memberOf(r, true)
	count := func(m aclMode) int {
		n := 0
		for _, p := range privileges {
			if m&p.mode != 0 {
				n++
			}
		}
		return n
	}
	best, bestMode := r.OID, aclMode(0)
	for _, a := range t.acl() {
		if a.Grantee == r.OID {
			bestMode |= a.Grant & want
		}
	}
	oids := make([]uint32, 0, len(roles))
	for oid := range roles {
		oids = append(oids, oid)
	}
	sort.Slice(oids, func(i, j int) bool { return oids[i] < oids[j] })
	for _, oid := range oids {
		var m aclMode
		for _, a := range t.acl() {
			if a.Grantee == oid {
				m |= a.Grant & want
			}
		}
		if count(m) > count(bestMode) {
			best, bestMode = oid, m
		}
	}
	return best, bestMode
}

func (t aclTarget) setACL(acl []aclItem) {
	if t.it != nil {
		t.it.acl = acl
	} else {
		t.sc.acl = acl
	}
}

func cloneACL(acl []aclItem) []aclItem {
	if acl == nil {
		return nil
	}
	return append([]aclItem{}, acl...)
}

// grantACL adds privs (and, with option, the right to grant them) to the
// entry of grantee by grantor.
func grantACL(acl []aclItem, grantee, grantor uint32, privs aclMode, option bool) []aclItem {
	for i := range acl {
		if acl[i].Grantee == grantee && acl[i].Grantor == grantor {
			acl[i].Privs |= privs
			if option {
				acl[i].Grant |= privs
			}
			return acl
		}
	}
	e := aclItem{Grantee: grantee, Grantor: grantor, Privs: privs}
	if option {
		e.Grant = privs
	}
	return append(acl, e)
}

// revokeACL takes privs (or, with option, only the right to grant them)
// from the entry of grantee by grantor. Grants the grantee made with the
// right it loses are revoked too with cascade; without, they are an
// error (2BP01), as in PostgreSQL.
func revokeACL(acl []aclItem, grantee, grantor uint32, privs aclMode, option, cascade bool, owner uint32) ([]aclItem, error) {
	lost := aclMode(0)
	out := acl[:0:0]
	for _, a := range acl {
		if a.Grantee == grantee && a.Grantor == grantor {
			lost = a.Grant & privs
			a.Grant &^= privs
			if !option {
				a.Privs &^= privs
			}
			if a.Privs == 0 {
				continue
			}
		}
		out = append(out, a)
	}
	if lost == 0 || grantee == owner {
		return out, nil
	}
	for _, a := range out {
		if a.Grantor == grantee && a.Privs&lost != 0 {
			if !cascade {
				return nil, pgcode.New(pgcode.DependentObjectsStillExist, "dependent privileges exist").
					WithHint("Use CASCADE to revoke them too.")
			}
			var err error
			if out, err = revokeACL(out, a.Grantee, grantee, lost, false, true, owner); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// replayPrivilegeRecord applies an acl or owner record.
func (c *Coordinator) replayPrivilegeRecord(rec catalogRecord) {
	var t aclTarget
	switch {
	case rec.Schema != "" && c.cat.schemas[rec.Schema] != nil:
		t = schemaTarget(c.cat.schemas[rec.Schema])
	case rec.Schema == "" && c.cat.items[rec.ID] != nil:
		t = itemTarget(c.cat.items[rec.ID])
	default:
		return
	}
	if rec.Op == "acl" {
		t.setACL(rec.ACL)
	} else {
		t.setOwner(rec.Owner)
	}
	c.cat.version++
}

// setOwner gives t a new owner; ACL entries of the old owner (as grantee
// or grantor) pass to the new one, as PostgreSQL's aclnewowner does.
func (t aclTarget) setOwner(owner uint32) {
	old := t.owner()
	acl := cloneACL(t.acl())
	for i := range acl {
		if acl[i].Grantee == old {
			acl[i].Grantee = owner
		}
		if acl[i].Grantor == old {
			acl[i].Grantor = owner
		}
	}
	t.setACL(acl)
	if t.it != nil {
		t.it.owner = owner
	} else {
		t.sc.owner = owner
	}
}

// changeOwnerLocked makes owner the owner of t durably.
func (c *Coordinator) changeOwnerLocked(ctx context.Context, t aclTarget, owner uint32) error {
	rec := t.record("owner")
	rec.Owner = owner
	// persistLocked sets Owner on create and schema records only.
	if err := c.persistLocked(ctx, rec); err != nil {
		return err
	}
	t.setOwner(owner)
	c.cat.version++
	return nil
}

// alterOwner runs ALTER ... OWNER TO: the actor must own the object and
// be able to SET ROLE to the new owner.
func (c *Coordinator) alterOwner(ctx context.Context, s *session, p *sql.AlterOwnerPlan) error {
	actor := s.actorLocked()
	var t aclTarget
	if p.Kind == "schema" {
		sc := c.cat.schemas[p.Name.Item]
		if sc == nil {
			return pgcode.New(pgcode.InvalidSchemaName, "schema %q does not exist", p.Name.Item)
		}
		t = schemaTarget(sc)
	} else {
		it, err := c.cat.resolve(p.Name, c.searchPathFor(p.Name))
		if err != nil {
			return err
		}
		if it.Kind.String() != p.Kind && !(p.Kind == "table" && it.Kind.IsRelation()) {
			return pgcode.New(pgcode.WrongObjectType, "%q is not a %s", it.Name.Item, p.Kind)
		}
		t = itemTarget(it)
	}
	owner := c.cat.roleByName(p.NewOwner)
	if owner == nil {
		return pgcode.New(pgcode.UndefinedObject, "role %q does not exist", p.NewOwner)
	}
	if err := c.cat.requireOwner(actor, t); err != nil {
		return err
	}
	if !c.cat.isMemberOf(actor, owner.OID) {
		return pgcode.New(pgcode.InsufficientPrivilege, "must be able to SET ROLE %q", owner.Name)
	}
	if t.owner() == owner.OID {
		return nil
	}
	return c.changeOwnerLocked(ctx, t, owner.OID)
}

// ownedRolesLocked resolves REASSIGN OWNED's and DROP OWNED's roles,
// checking that the actor has the privileges of each.
func (c *Coordinator) ownedRolesLocked(actor *role, names []string, what string) (map[uint32]bool, error) {
	out := map[uint32]bool{}
	for _, n := range names {
		r := c.cat.roleByName(n)
		if r == nil {
			return nil, pgcode.New(pgcode.UndefinedObject, "role %q does not exist", n)
		}
		if !c.cat.hasPrivsOfRole(actor, r.OID) {
			return nil, pgcode.New(pgcode.InsufficientPrivilege, "permission denied to %s objects", what)
		}
		out[r.OID] = true
	}
	return out, nil
}

// ownedTargets lists the items and schemas owned by roles, items in id
// order, then schemas in OID order.
func (cat *catalog) ownedTargets(roles map[uint32]bool) []aclTarget {
	var out []aclTarget
	for _, it := range cat.sortedItemsByID() {
		if !it.system && roles[it.owner] {
			out = append(out, itemTarget(it))
		}
	}
	for _, sc := range sortedSchemas(cat) {
		if !sc.system && roles[sc.owner] {
			out = append(out, schemaTarget(sc))
		}
	}
	return out
}

func (cat *catalog) sortedItemsByID() []*item {
	out := make([]*item, 0, len(cat.items))
	for _, it := range cat.items {
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (c *Coordinator) reassignOwned(ctx context.Context, s *session, p *sql.ReassignOwnedPlan) error {
	actor := s.actorLocked()
	roles, err := c.ownedRolesLocked(actor, p.Roles, "reassign")
	if err != nil {
		return err
	}
	to := c.cat.roleByName(p.NewRole)
	if to == nil {
		return pgcode.New(pgcode.UndefinedObject, "role %q does not exist", p.NewRole)
	}
	if !c.cat.hasPrivsOfRole(actor, to.OID) {
		return pgcode.New(pgcode.InsufficientPrivilege, "permission denied to reassign objects")
	}
	for _, t := range c.cat.ownedTargets(roles) {
		if err := c.changeOwnerLocked(ctx, t, to.OID); err != nil {
			return err
		}
		ctx = context.WithoutCancel(ctx)
	}
	return nil
}

// dropOwned runs DROP OWNED: the privileges granted to the roles are
// revoked, and what they own is dropped (with CASCADE, what depends on
// it too).
func (c *Coordinator) dropOwned(ctx context.Context, s *session, p *sql.DropOwnedPlan) error {
	actor := s.actorLocked()
	roles, err := c.ownedRolesLocked(actor, p.Roles, "drop")
	if err != nil {
		return err
	}
	owned := c.cat.ownedTargets(roles)
	var items []plan.GlobalID
	seen := map[plan.GlobalID]bool{}
	for _, t := range owned {
		if t.it == nil {
			continue
		}
		deps := c.cat.dependents(t.it.ID)
		for _, d := range deps {
			if di := c.cat.items[d]; di != nil && !roles[di.owner] && di.Kind != sql.KindIndex && !p.Cascade {
				return pgcode.New(pgcode.DependentObjectsStillExist, "cannot drop desired object(s) because other objects depend on them").
					WithDetail("%s %s depends on %s %s", di.Kind, di.Name.Item, t.kind, t.name).WithHint("Use DROP ... CASCADE to drop the dependent objects too.")
			}
			if !seen[d] {
				seen[d] = true
				items = append(items, d)
			}
		}
	}
	// Revoke first: the revocations of objects about to be dropped are
	// skipped.
	for _, it := range c.cat.sortedItemsByID() {
		if !seen[it.ID] {
			if err := c.revokeAllFromLocked(ctx, itemTarget(it), roles); err != nil {
				return err
			}
		}
	}
	for _, sc := range sortedSchemas(c.cat) {
		if err := c.revokeAllFromLocked(ctx, schemaTarget(sc), roles); err != nil {
			return err
		}
	}
	if err := c.dropDefaultACLsLocked(ctx, roles); err != nil {
		return err
	}
	if err := c.dropItemsLocked(ctx, items, true); err != nil {
		return err
	}
	for _, t := range owned {
		if t.sc == nil {
			continue
		}
		if len(t.sc.items) > 0 {
			return pgcode.New(pgcode.DependentObjectsStillExist, "cannot drop schema %s because other objects depend on it", t.sc.name).
				WithHint("Use DROP ... CASCADE to drop the dependent objects too.")
		}
		if err := c.dropSchemas(ctx, &sql.DropPlan{Kind: "schema", Names: []sql.PartialName{{Item: t.sc.name}}}); err != nil {
			return err
		}
	}
	return nil
}

// revokeAllFromLocked removes the ACL entries of t granted to roles.
func (c *Coordinator) revokeAllFromLocked(ctx context.Context, t aclTarget, roles map[uint32]bool) error {
	acl := t.acl()
	var kept []aclItem
	for _, a := range acl {
		if !roles[a.Grantee] || a.Grantee == t.owner() {
			kept = append(kept, a)
		}
	}
	if len(kept) == len(acl) {
		return nil
	}
	if kept == nil {
		kept = []aclItem{}
	}
	return c.setACLLocked(ctx, t, kept)
}

// roleDependencies lists what keeps role oid from being dropped, as
// PostgreSQL's DETAIL does: what it owns and where it has privileges.
func (cat *catalog) roleDependencies(oid uint32) []string {
	var out []string
	for _, it := range cat.sortedItemsByID() {
		if it.system {
			continue
		}
		t := itemTarget(it)
		if it.owner == oid {
			out = append(out, fmt.Sprintf("owner of %s %s", t.kind, qualified(it)))
		}
		if aclMentions(it.acl, oid) {
			out = append(out, fmt.Sprintf("privileges for %s %s", t.kind, qualified(it)))
		}
	}
	for _, sc := range sortedSchemas(cat) {
		if sc.owner == oid {
			out = append(out, "owner of schema "+sc.name)
		}
		if aclMentions(sc.acl, oid) {
			out = append(out, "privileges for schema "+sc.name)
		}
	}
	return append(out, cat.defaultACLDependencies(oid)...)
}

func aclMentions(acl []aclItem, oid uint32) bool {
	for _, a := range acl {
		if a.Grantee == oid || a.Grantor == oid {
			return true
		}
	}
	return false
}

// aclText is an ACL as PostgreSQL's aclitem[] text elements (nil for
// the default ACL, which PostgreSQL shows as NULL).
func (cat *catalog) aclText(acl []aclItem) []string {
	if acl == nil {
		return nil
	}
	out := make([]string, 0, len(acl))
	for _, a := range acl {
		out = append(out, a.text(cat))
	}
	return out
}

// privilegeDefs are the system relations of privileges: every grant on a
// relation, the owners' included (from which the sql package's session
// views information_schema.table_privileges and role_table_grants select
// those the asker may see, as PostgreSQL's definitions do), and the
// effective privileges and memberships that has_*_privilege, pg_has_role,
// enabled_roles and applicable_roles read.
func privilegeDefs() []builtinDef {
	grants := cols("grantor text, grantee text, table_catalog text, table_schema text, table_name text, privilege_type text, is_grantable text, with_hierarchy text")
	return []builtinDef{
		grants.def("mz_internal", "mz_table_grants", tableGrantRows),
		cols("oid oid, defaclrole oid, defaclnamespace oid, defaclobjtype text, defaclacl text[]").def("pg_catalog", "pg_default_acl", pgDefaultACLRows),
		cols("role_oid oid, role_name text, object_oid oid, schema_name text, object_name text, qualified_name text, object_kind text, privilege text").
			def("mz_internal", "mz_object_privileges", objectPrivilegeRows),
		cols("member_oid oid, member_name text, role_oid oid, role_name text, usage bool").def("mz_internal", "mz_role_members", roleMemberRows),
	}
}

// tableGrantRows lists every relation's ACL entries (the owner's default
// entry for a relation never granted on), PUBLIC as "PUBLIC".
func tableGrantRows(c *Coordinator) [][]repr.Datum {
	yesNo := func(b bool) repr.Datum {
		if b {
			return text("YES")
		}
		return text("NO")
	}
	var out [][]repr.Datum
	for _, it := range c.userItems() {
		if !it.Kind.IsRelation() {
			continue
		}
		all := kindPrivileges(it.Kind.String())
		acl := it.acl
		if acl == nil {
			acl = []aclItem{{Grantee: it.owner, Grantor: it.owner, Privs: all}}
		}
		for _, a := range acl {
			grantee := c.cat.roleName(a.Grantee)
			if a.Grantee == publicRoleOID {
				grantee = "PUBLIC"
			}
			for _, p := range privileges {
				if a.Privs&p.mode != 0 {
					out = append(out, []repr.Datum{text(c.cat.roleName(a.Grantor)), text(grantee), text(defaultDatabase), text(it.Name.Schema), text(it.Name.Item),
						text(p.name), yesNo(a.Grant&p.mode != 0 || a.Grantee == it.owner), text("NO")})
				}
			}
		}
	}
	return out
}

// objectPrivilegeRows lists, for every role, the privileges it holds on
// each user relation and schema; system relations and schemas appear
// once, held by PUBLIC (role 0).
func objectPrivilegeRows(c *Coordinator) [][]repr.Datum {
	var out [][]repr.Datum
	row := func(r uint32, rname string, o uint32, schema, name, kind string, held aclMode) {
		qualified := schema + "." + name
		if kind == "schema" {
			qualified = name
		}
		for _, p := range privileges {
			if held&p.mode != 0 {
				out = append(out, []repr.Datum{oid(r), text(rname), oid(o), text(schema), text(name), text(qualified), text(kind), text(p.name)})
			}
		}
	}
	roles := c.cat.sortedRoles()
	for _, it := range c.sortedItems() {
		if !it.Kind.IsRelation() {
			continue
		}
		if it.system {
			row(publicRoleOID, "", it.oid, it.Name.Schema, it.Name.Item, "table", privSelect)
			continue
		}
		for _, r := range roles {
			held, _ := c.cat.held(r, itemTarget(it))
			row(r.OID, r.Name, it.oid, it.Name.Schema, it.Name.Item, "table", held)
		}
	}
	for _, sc := range sortedSchemas(c.cat) {
		if sc.system {
			row(publicRoleOID, "", sc.oid, "", sc.name, "schema", privUsage)
			continue
		}
		for _, r := range roles {
			held, _ := c.cat.held(r, schemaTarget(sc))
			row(r.OID, r.Name, sc.oid, "", sc.name, "schema", held)
		}
	}
	return out
}

// roleMemberRows lists, for every role, each role it is a member of at
// any depth (itself included), and whether it holds that role's
// privileges; superusers are members of every role.
func roleMemberRows(c *Coordinator) [][]repr.Datum {
	var out [][]repr.Datum
	roles := c.cat.sortedRoles()
	for _, m := range roles {
		member, usage := c.cat.memberOf(m, false), c.cat.memberOf(m, true)
		for _, g := range roles {
			if m.Super || member[g.OID] {
				out = append(out, []repr.Datum{oid(m.OID), text(m.Name), oid(g.OID), text(g.Name), boolD(m.Super || usage[g.OID])})
			}
		}
	}
	return out
}
