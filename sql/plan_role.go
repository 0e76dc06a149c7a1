package sql

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/sql/parse"
)

// Role and privilege statements. The planner only names what they act
// on (roles by name, objects by partial name, privileges in upper case);
// the coordinator checks them against its catalog of roles, owners and
// access control lists.

// PublicRole is the grantee of GRANT ... TO PUBLIC; no role may take the
// name (PostgreSQL reserves it too).
const PublicRole = "public"

// RoleOptions are the attributes CREATE ROLE and ALTER ROLE set. A nil
// attribute is not mentioned: CREATE takes PostgreSQL's default, ALTER
// keeps the role's value.
type RoleOptions struct {
	Login, Superuser, CreateRole, CreateDB, Inherit *bool
	// PasswordSet is set by PASSWORD 'x' (Password the text) and
	// PASSWORD NULL (Password nil).
	PasswordSet bool
	Password    *string
	// InRoles are CREATE ROLE's IN ROLE roles (the new role joins them);
	// Members its ROLE/USER and ADMIN roles (they join the new role).
	InRoles []string
	Members []string
	Admins  []string
}

// CreateRolePlan is CREATE ROLE | USER | GROUP; CREATE USER logs in
// unless told NOLOGIN.
type CreateRolePlan struct {
	Name    string
	Options RoleOptions
}

// AlterRolePlan is ALTER ROLE | USER name [WITH] options.
type AlterRolePlan struct {
	Name    string
	Options RoleOptions
}

// DropRolePlan is DROP ROLE | USER [IF EXISTS] names.
type DropRolePlan struct {
	Names    []string
	IfExists bool
}

// RenameRolePlan is ALTER ROLE name RENAME TO new.
type RenameRolePlan struct{ Name, NewName string }

// GrantRolePlan is GRANT roles TO members [WITH ADMIN OPTION] and
// REVOKE [ADMIN OPTION FOR] roles FROM members.
type GrantRolePlan struct {
	Grant   bool
	Roles   []string
	Members []string
	// Admin is WITH ADMIN OPTION (grant) or ADMIN OPTION FOR (revoke).
	Admin bool
}

// GrantPlan is GRANT | REVOKE privileges ON objects TO | FROM roles.
type GrantPlan struct {
	Grant bool
	// Privileges are upper-case names (SELECT, USAGE, ...); nil is ALL.
	Privileges []string
	// Kind is what ON names: "table" (any relation), "schema", or a
	// catalog item kind ("connection", "secret", "source", ...).
	Kind string
	// Objects are the objects named; for schemas, Item holds the name.
	Objects []PartialName
	// AllInSchema is ON ALL TABLES IN SCHEMA Objects (Items are schemas).
	AllInSchema bool
	// Grantees are role names, PublicRole for PUBLIC.
	Grantees []string
	// GrantOption is WITH GRANT OPTION (grant) or GRANT OPTION FOR
	// (revoke).
	GrantOption bool
	Cascade     bool
}

// AlterOwnerPlan is ALTER TABLE | VIEW | ... | SCHEMA name OWNER TO role.
type AlterOwnerPlan struct {
	Kind     string
	Name     PartialName // for a schema, Item holds the name
	NewOwner string
}

// ReassignOwnedPlan is REASSIGN OWNED BY roles TO role.
type ReassignOwnedPlan struct {
	Roles   []string
	NewRole string
}

// DropOwnedPlan is DROP OWNED BY roles [CASCADE]: drops what they own
// and revokes what was granted to them.
type DropOwnedPlan struct {
	Roles   []string
	Cascade bool
}

// AlterDefaultPrivilegesPlan is ALTER DEFAULT PRIVILEGES [FOR ROLE
// roles] [IN SCHEMA schemas] GRANT | REVOKE ... ON TABLES | SCHEMAS:
// Grant's Kind is "table" or "schema" and its Objects are empty.
type AlterDefaultPrivilegesPlan struct {
	// Roles are FOR ROLE's (nil: the current role); Schemas IN SCHEMA's
	// (nil: any schema).
	Roles   []string
	Schemas []string
	Grant   *GrantPlan
}

func (*AlterDefaultPrivilegesPlan) isPlan() {}
func (*CreateRolePlan) isPlan()             {}
func (*AlterRolePlan) isPlan()              {}
func (*DropRolePlan) isPlan()               {}
func (*RenameRolePlan) isPlan()             {}
func (*GrantRolePlan) isPlan()              {}
func (*GrantPlan) isPlan()                  {}
func (*AlterOwnerPlan) isPlan()             {}
func (*ReassignOwnedPlan) isPlan()          {}
func (*DropOwnedPlan) isPlan()              {}

// CurrentUser is the session's current role: SET ROLE's, else the
// session user.
func CurrentUser(vars map[string]string) string {
	if r := vars["role"]; r != "" && r != "none" {
		return r
	}
	return SessionUser(vars)
}

// SessionUser is the session's user: the authenticated role, or the one
// SET SESSION AUTHORIZATION chose.
func SessionUser(vars map[string]string) string {
	if u := vars["session_authorization"]; u != "" {
		return u
	}
	return expr.SuperuserName
}

// roleSpecName names the role a RoleSpec means in this session.
func roleSpecName(scx *StatementContext, rs *pg_query.RoleSpec) (string, error) {
	if rs == nil {
		return "", pgcode.New(pgcode.SyntaxError, "role name expected")
	}
	switch rs.Roletype {
	case pg_query.RoleSpecType_ROLESPEC_CSTRING:
		return rs.Rolename, nil
	case pg_query.RoleSpecType_ROLESPEC_CURRENT_USER, pg_query.RoleSpecType_ROLESPEC_CURRENT_ROLE:
		return CurrentUser(scx.Vars), nil
	case pg_query.RoleSpecType_ROLESPEC_SESSION_USER:
		return SessionUser(scx.Vars), nil
	case pg_query.RoleSpecType_ROLESPEC_PUBLIC:
		return PublicRole, nil
	}
	return "", pgcode.New(pgcode.FeatureNotSupported, "role specification %s is not supported", rs.Roletype)
}

func roleSpecNames(scx *StatementContext, nodes []*pg_query.Node) ([]string, error) {
	var out []string
	for _, n := range nodes {
		name, err := roleSpecName(scx, n.GetRoleSpec())
		if err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, nil
}

// planRoleOptions reads CREATE/ALTER ROLE's option list.
func planRoleOptions(scx *StatementContext, opts []*pg_query.Node) (RoleOptions, error) {
	var o RoleOptions
	flag := func(de *pg_query.DefElem) *bool {
		v := de.Arg == nil || de.Arg.GetBoolean() == nil || de.Arg.GetBoolean().Boolval
		return &v
	}
	roles := func(de *pg_query.DefElem) ([]string, error) {
		return roleSpecNames(scx, de.Arg.GetList().GetItems())
	}
	for _, n := range opts {
		de := n.GetDefElem()
		if de == nil {
			continue
		}
		var err error
		switch de.Defname {
		case "canlogin":
			o.Login = flag(de)
		case "superuser":
			o.Superuser = flag(de)
		case "createrole":
			o.CreateRole = flag(de)
		case "createdb":
			o.CreateDB = flag(de)
		case "inherit":
			o.Inherit = flag(de)
		case "password":
			o.PasswordSet = true
			if s := de.Arg.GetString_(); s != nil {
				v := s.Sval
				o.Password = &v
			}
		case "addroleto":
			o.InRoles, err = roles(de)
		case "rolemembers":
			o.Members, err = roles(de)
		case "adminmembers":
			o.Admins, err = roles(de)
		case "connectionlimit", "validUntil":
			// Accepted and ignored: viewd limits neither.
		default:
			return o, pgcode.New(pgcode.FeatureNotSupported, "role option %s is not supported", strings.ToUpper(de.Defname))
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

// planRoleStmt plans the role and privilege statements PostgreSQL's
// grammar parses; ok is false for other statements.
func planRoleStmt(scx *StatementContext, n *pg_query.Node) (Plan, bool, error) {
	switch x := n.Node.(type) {
	case *pg_query.Node_CreateRoleStmt:
		opts, err := planRoleOptions(scx, x.CreateRoleStmt.Options)
		if err != nil {
			return nil, true, err
		}
		if x.CreateRoleStmt.StmtType == pg_query.RoleStmtType_ROLESTMT_USER && opts.Login == nil {
			t := true
			opts.Login = &t
		}
		return &CreateRolePlan{Name: x.CreateRoleStmt.Role, Options: opts}, true, nil
	case *pg_query.Node_AlterRoleStmt:
		name, err := roleSpecName(scx, x.AlterRoleStmt.Role)
		if err != nil {
			return nil, true, err
		}
		opts, err := planRoleOptions(scx, x.AlterRoleStmt.Options)
		if err != nil {
			return nil, true, err
		}
		if len(opts.InRoles)+len(opts.Members)+len(opts.Admins) > 0 {
			return nil, true, pgcode.New(pgcode.FeatureNotSupported, "ALTER ROLE cannot change memberships").WithHint("Use GRANT or REVOKE.")
		}
		return &AlterRolePlan{Name: name, Options: opts}, true, nil
	case *pg_query.Node_DropRoleStmt:
		names, err := roleSpecNames(scx, x.DropRoleStmt.Roles)
		if err != nil {
			return nil, true, err
		}
		return &DropRolePlan{Names: names, IfExists: x.DropRoleStmt.MissingOk}, true, nil
	case *pg_query.Node_GrantRoleStmt:
		g := x.GrantRoleStmt
		p := &GrantRolePlan{Grant: g.IsGrant}
		for _, r := range g.GrantedRoles {
			p.Roles = append(p.Roles, r.GetAccessPriv().GetPrivName())
		}
		var err error
		if p.Members, err = roleSpecNames(scx, g.GranteeRoles); err != nil {
			return nil, true, err
		}
		for _, o := range g.Opt {
			de := o.GetDefElem()
			switch {
			case de == nil:
			case de.Defname == "admin":
				p.Admin = de.Arg == nil || de.Arg.GetBoolean() == nil || de.Arg.GetBoolean().Boolval
			default:
				return nil, true, pgcode.New(pgcode.FeatureNotSupported, "GRANT role WITH %s OPTION is not supported", strings.ToUpper(de.Defname))
			}
		}
		return p, true, nil
	case *pg_query.Node_GrantStmt:
		if x.GrantStmt.Targtype == pg_query.GrantTargetType_ACL_TARGET_DEFAULTS {
			return nil, true, pgcode.New(pgcode.SyntaxError, "GRANT ... ON TABLES needs ALTER DEFAULT PRIVILEGES")
		}
		p, err := planGrant(scx, x.GrantStmt)
		if err != nil {
			return nil, true, err
		}
		return p, true, nil
	case *pg_query.Node_AlterDefaultPrivilegesStmt:
		a := x.AlterDefaultPrivilegesStmt
		p := &AlterDefaultPrivilegesPlan{}
		for _, o := range a.Options {
			de := o.GetDefElem()
			if de == nil {
				continue
			}
			items := de.Arg.GetList().GetItems()
			switch de.Defname {
			case "roles":
				names, err := roleSpecNames(scx, items)
				if err != nil {
					return nil, true, err
				}
				p.Roles = names
			case "schemas":
				for _, it := range items {
					p.Schemas = append(p.Schemas, it.GetString_().GetSval())
				}
			}
		}
		g, err := planGrant(scx, a.Action)
		if err != nil {
			return nil, true, err
		}
		p.Grant = g
		return p, true, nil
	case *pg_query.Node_AlterOwnerStmt:
		a := x.AlterOwnerStmt
		if a.ObjectType != pg_query.ObjectType_OBJECT_SCHEMA || a.Object.GetString_() == nil {
			return nil, true, pgcode.New(pgcode.FeatureNotSupported, "ALTER %s OWNER is not supported", strings.TrimPrefix(a.ObjectType.String(), "OBJECT_"))
		}
		owner, err := roleSpecName(scx, a.Newowner)
		if err != nil {
			return nil, true, err
		}
		return &AlterOwnerPlan{Kind: "schema", Name: PartialName{Item: a.Object.GetString_().Sval}, NewOwner: owner}, true, nil
	case *pg_query.Node_AlterTableStmt:
		a := x.AlterTableStmt
		if len(a.Cmds) != 1 || a.Cmds[0].GetAlterTableCmd().GetSubtype() != pg_query.AlterTableType_AT_ChangeOwner {
			return nil, false, nil
		}
		kind, ok := objectKinds[a.Objtype]
		if !ok {
			return nil, true, pgcode.New(pgcode.FeatureNotSupported, "ALTER %s OWNER is not supported", strings.TrimPrefix(a.Objtype.String(), "OBJECT_"))
		}
		owner, err := roleSpecName(scx, a.Cmds[0].GetAlterTableCmd().Newowner)
		if err != nil {
			return nil, true, err
		}
		return &AlterOwnerPlan{Kind: kind, Name: nameParts(a.Relation), NewOwner: owner}, true, nil
	case *pg_query.Node_ReassignOwnedStmt:
		roles, err := roleSpecNames(scx, x.ReassignOwnedStmt.Roles)
		if err != nil {
			return nil, true, err
		}
		to, err := roleSpecName(scx, x.ReassignOwnedStmt.Newrole)
		if err != nil {
			return nil, true, err
		}
		return &ReassignOwnedPlan{Roles: roles, NewRole: to}, true, nil
	case *pg_query.Node_DropOwnedStmt:
		roles, err := roleSpecNames(scx, x.DropOwnedStmt.Roles)
		if err != nil {
			return nil, true, err
		}
		return &DropOwnedPlan{Roles: roles, Cascade: x.DropOwnedStmt.Behavior == pg_query.DropBehavior_DROP_CASCADE}, true, nil
	case *pg_query.Node_RenameStmt:
		if x.RenameStmt.RenameType != pg_query.ObjectType_OBJECT_ROLE {
			return nil, false, nil
		}
		return &RenameRolePlan{Name: x.RenameStmt.Subname, NewName: x.RenameStmt.Newname}, true, nil
	}
	return nil, false, nil
}

func planGrant(scx *StatementContext, g *pg_query.GrantStmt) (*GrantPlan, error) {
	p := &GrantPlan{Grant: g.IsGrant, GrantOption: g.GrantOption, Cascade: g.Behavior == pg_query.DropBehavior_DROP_CASCADE}
	for _, n := range g.Privileges {
		ap := n.GetAccessPriv()
		if len(ap.Cols) > 0 {
			return nil, pgcode.New(pgcode.FeatureNotSupported, "column privileges are not supported")
		}
		p.Privileges = append(p.Privileges, strings.ToUpper(ap.PrivName))
	}
	var err error
	if p.Grantees, err = roleSpecNames(scx, g.Grantees); err != nil {
		return nil, err
	}
	switch g.Objtype {
	case pg_query.ObjectType_OBJECT_TABLE:
		p.Kind = "table"
	case pg_query.ObjectType_OBJECT_SCHEMA:
		p.Kind = "schema"
	default:
		return nil, pgcode.New(pgcode.FeatureNotSupported, "privileges on %s are not supported", strings.ToLower(strings.TrimPrefix(g.Objtype.String(), "OBJECT_")))
	}
	switch g.Targtype {
	case pg_query.GrantTargetType_ACL_TARGET_OBJECT:
	case pg_query.GrantTargetType_ACL_TARGET_ALL_IN_SCHEMA:
		p.AllInSchema = true
	case pg_query.GrantTargetType_ACL_TARGET_DEFAULTS:
	default:
		return nil, pgcode.New(pgcode.FeatureNotSupported, "GRANT target %s is not supported", g.Targtype)
	}
	for _, o := range g.Objects {
		switch {
		case o.GetRangeVar() != nil:
			p.Objects = append(p.Objects, nameParts(o.GetRangeVar()))
		case o.GetString_() != nil:
			p.Objects = append(p.Objects, PartialName{Item: o.GetString_().Sval})
		default:
			return nil, pgcode.New(pgcode.SyntaxError, "unexpected object in GRANT")
		}
	}
	return p, nil
}

// planGrantOn plans the GRANT and REVOKE of viewd's object kinds
// (CONNECTION, SECRET, SOURCE), which PostgreSQL's grammar rejects.
func planGrantOn(scx *StatementContext, s *parse.GrantOn) (Plan, error) {
	p := &GrantPlan{Grant: s.Grant, Privileges: s.Privileges, Kind: s.Kind, GrantOption: s.GrantOption, Cascade: s.Cascade}
	for _, n := range s.Names {
		pn, err := partialFromParts(n)
		if err != nil {
			return nil, err
		}
		p.Objects = append(p.Objects, pn)
	}
	for _, g := range s.Grantees {
		switch strings.ToLower(g) {
		case "public":
			p.Grantees = append(p.Grantees, PublicRole)
		case "current_user", "current_role":
			p.Grantees = append(p.Grantees, CurrentUser(scx.Vars))
		case "session_user":
			p.Grantees = append(p.Grantees, SessionUser(scx.Vars))
		default:
			p.Grantees = append(p.Grantees, g)
		}
	}
	return p, nil
}
