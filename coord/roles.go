package coord

import (
	"context"
	"crypto/rand"
	"fmt"
	"sort"
	"strings"

	"github.com/xdg-go/scram"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/sql"
	"github.com/viewd/viewd/wire"
)

// Roles, as PostgreSQL has them: a role has attributes (LOGIN, SUPERUSER,
// CREATEROLE, CREATEDB, INHERIT), an optional password kept only as a
// SCRAM-SHA-256 verifier, and memberships in other roles. A role with
// INHERIT holds the privileges of the roles it is a member of, through
// members that inherit in turn; SET ROLE may switch to any role one is a
// member of, inheriting or not. Superusers pass every privilege check.
//
// Roles live in the durable catalog: each change writes a "roles" record
// holding the whole state of every role it changed, and DROP ROLE a
// "drop_role" record, so replay applies records without checks. A new data
// directory (no role records) gets the bootstrap superuser viewd (OID 10,
// the owner of everything created before roles existed) and, as initdb
// does, a LOGIN SUPERUSER role for the OS user that started the server
// (Config.OSUser). pg_signal_backend is built in and never stored.
//
// The login facts of every role are also published, after each change,
// as an immutable map (Coordinator.logins) that LoginRole reads without
// the coordinator's lock: authenticating a connection never waits for a
// DDL statement or a step.

// roleRecord is a role's durable state.
type roleRecord struct {
	OID        uint32 `json:"oid"`
	Name       string `json:"name"`
	Super      bool   `json:"super,omitempty"`
	Login      bool   `json:"login,omitempty"`
	Inherit    bool   `json:"inherit,omitempty"`
	CreateRole bool   `json:"createrole,omitempty"`
	CreateDB   bool   `json:"createdb,omitempty"`
	// Verifier is the SCRAM-SHA-256 verifier of the password, "" for none.
	Verifier string `json:"verifier,omitempty"`
	// MemberOf are the roles this role is a direct member of.
	MemberOf map[uint32]membership `json:"member_of,omitempty"`
}

// membership is one GRANT role TO member.
type membership struct {
	Admin   bool   `json:"admin,omitempty"`
	Grantor uint32 `json:"grantor"`
}

// role is a role of the catalog.
type role struct {
	roleRecord
	// system marks the built-in roles (pg_signal_backend): never stored,
	// altered or dropped.
	system bool
}

// OIDs of the built-in roles, as in PostgreSQL.
const (
	bootstrapRoleOID     = ownerOID // viewd
	signalBackendRoleOID = 4200
	publicRoleOID        = 0 // PUBLIC in an ACL
)

// Login is what the wire layer needs to authenticate a connection as a
// role.
type Login struct {
	Exists    bool
	CanLogin  bool
	Superuser bool
	// Verifier is the role's SCRAM-SHA-256 verifier in PostgreSQL's text
	// form "SCRAM-SHA-256$<iterations>:<salt base64>$<StoredKey
	// base64>:<ServerKey base64>"; "" when it has no password.
	Verifier string
}

// LoginRole reports the login facts of role name, as of the latest
// catalog change (read from a published copy of the durable catalog:
// no lock, no dataflow). A role that does not exist has Exists false.
func (c *Coordinator) LoginRole(name string) (Login, error) {
	m := c.logins.Load()
	if m == nil {
		return Login{}, pgcode.New(pgcode.CannotConnectNow, "the catalog is not loaded yet")
	}
	return (*m)[name], nil
}

// publishLoginsLocked publishes every role's login facts for LoginRole
// and NewSession; called after each change to roles.
func (c *Coordinator) publishLoginsLocked() {
	m := make(map[string]Login, len(c.cat.roles))
	for _, r := range c.cat.roles {
		m[r.Name] = Login{Exists: true, CanLogin: r.Login, Superuser: r.Super, Verifier: r.Verifier}
	}
	c.logins.Store(&m)
}

// builtinRoles are the roles every catalog has.
func builtinRoles() []*role {
	return []*role{{roleRecord: roleRecord{OID: signalBackendRoleOID, Name: "pg_signal_backend", Inherit: true}, system: true}}
}

// roleByName returns the role named name, nil when there is none.
func (cat *catalog) roleByName(name string) *role {
	for _, r := range cat.roles {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// sortedRoles returns the roles in OID order.
func (cat *catalog) sortedRoles() []*role {
	out := make([]*role, 0, len(cat.roles))
	for _, r := range cat.roles {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OID < out[j].OID })
	return out
}

// roleName names an OID for messages and catalogs ("" for PUBLIC).
func (cat *catalog) roleName(oid uint32) string {
	if oid == publicRoleOID {
		return ""
	}
	if r := cat.roles[oid]; r != nil {
		return r.Name
	}
	return fmt.Sprintf("unknown (OID=%d)", oid)
}

// memberOf returns the roles r is a member of, itself included, directly
// or through other roles; inheritOnly follows only the memberships of
// roles with INHERIT (the roles whose privileges r holds).
func (cat *catalog) memberOf(r *role, inheritOnly bool) map[uint32]bool {
	out := map[uint32]bool{r.OID: true}
	stack := []*role{r}
	for len(stack) > 0 {
		m := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if inheritOnly && !m.Inherit {
			continue
		}
		for oid := range m.MemberOf {
			if out[oid] {
				continue
			}
			out[oid] = true
			if g := cat.roles[oid]; g != nil {
				stack = append(stack, g)
			}
		}
	}
	return out
}

// hasPrivsOfRole reports whether r holds the privileges of role oid
// (PostgreSQL's has_privs_of_role): superusers hold every role's.
func (cat *catalog) hasPrivsOfRole(r *role, oid uint32) bool {
	if r == nil {
		return false
	}
	return r.Super || cat.memberOf(r, true)[oid]
}

// isMemberOf reports whether r may SET ROLE to role oid (PostgreSQL's
// is_member_of_role, ignoring INHERIT): superusers may to any.
func (cat *catalog) isMemberOf(r *role, oid uint32) bool {
	if r == nil {
		return false
	}
	return r.Super || cat.memberOf(r, false)[oid]
}

// putRoleLocked installs a role's state (a new role or a changed one).
func (cat *catalog) putRoleLocked(rec roleRecord) {
	if old := cat.roles[rec.OID]; old != nil && old.system {
		old.MemberOf = rec.MemberOf
		return
	}
	cat.roles[rec.OID] = &role{roleRecord: rec}
	if rec.OID >= cat.nextOID && rec.OID >= userOIDBase {
		cat.nextOID = rec.OID + 1
	}
	cat.version++
}

// dropRoleLocked forgets a role and every membership in it.
func (cat *catalog) dropRoleLocked(oid uint32) {
	delete(cat.roles, oid)
	for _, r := range cat.roles {
		delete(r.MemberOf, oid)
	}
	cat.version++
}

// persistRolesLocked makes the state of roles durable (one record).
func (c *Coordinator) persistRolesLocked(ctx context.Context, roles ...*role) error {
	rec := catalogRecord{Op: "roles"}
	for _, r := range roles {
		rec.Roles = append(rec.Roles, copyRoleRecord(r.roleRecord))
	}
	return c.persistLocked(ctx, rec)
}

// copyRoleRecord copies a role's state (its membership map included), so
// that a change can be built and checked before it is installed.
func copyRoleRecord(r roleRecord) roleRecord {
	m := make(map[uint32]membership, len(r.MemberOf))
	for k, v := range r.MemberOf {
		m[k] = v
	}
	r.MemberOf = m
	return r
}

// bootstrapRolesLocked gives a catalog without roles its first ones: the
// superuser viewd (with password, if not "") and, when osUser names
// another role, a LOGIN SUPERUSER role for the OS user.
func (c *Coordinator) bootstrapRolesLocked(password, osUser string) error {
	for _, r := range c.cat.roles {
		if !r.system {
			return nil
		}
	}
	var made []*role
	su := roleRecord{OID: bootstrapRoleOID, Name: expr.SuperuserName, Super: true, Login: true, Inherit: true, CreateRole: true, CreateDB: true}
	if password != "" {
		v, err := passwordVerifier(password)
		if err != nil {
			return err
		}
		su.Verifier = v
	}
	c.cat.putRoleLocked(su)
	made = append(made, c.cat.roles[su.OID])
	if osUser != "" && osUser != expr.SuperuserName && validRoleName(osUser) == nil {
		_, oid := c.cat.allocID()
		rec := roleRecord{OID: oid, Name: osUser, Super: true, Login: true, Inherit: true, CreateRole: true, CreateDB: true}
		c.cat.putRoleLocked(rec)
		made = append(made, c.cat.roles[oid])
	}
	if err := c.persistRolesLocked(c.ctx, made...); err != nil {
		return err
	}
	names := make([]string, len(made))
	for i, r := range made {
		names[i] = r.Name
	}
	c.log.Info("coord: created the bootstrap roles", "roles", strings.Join(names, ", "), "password", password != "")
	return nil
}

// validRoleName refuses the names PostgreSQL reserves.
func validRoleName(name string) error {
	switch {
	case name == "":
		return pgcode.New(pgcode.InvalidName, "zero-length role name")
	case name == sql.PublicRole || name == "none" || name == "current_user" || name == "session_user" || name == "current_role":
		return pgcode.New(pgcode.ReservedName, "role name %q is reserved", name)
	case strings.HasPrefix(name, "pg_"):
		return pgcode.New(pgcode.ReservedName, "role name %q is reserved", name).
			WithDetail("Role names starting with \"pg_\" are reserved.")
	}
	return nil
}

// scramIterations is the verifiers' PBKDF2 iteration count (PostgreSQL's
// scram_iterations default).
const scramIterations = 4096

// passwordVerifier returns what is stored for PASSWORD 'p': p itself when
// it is already a SCRAM-SHA-256 verifier (as PostgreSQL does), otherwise
// the verifier of p with a random 16-byte salt.
func passwordVerifier(p string) (string, error) {
	if _, err := wire.ParseSCRAMVerifier(p); err == nil {
		return p, nil
	}
	if isMD5Hash(p) {
		return "", pgcode.New(pgcode.FeatureNotSupported, "MD5 password hashes are not supported").
			WithHint("Give the password itself, or a SCRAM-SHA-256 verifier.")
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("coord: password salt: %w", err)
	}
	return scramVerifier(p, salt, scramIterations)
}

// scramVerifier computes the verifier of password p. The password is
// SASLprep-normalised; one that SASLprep refuses is used as it is, as
// PostgreSQL does.
func scramVerifier(p string, salt []byte, iters int) (string, error) {
	client, err := scram.SHA256.NewClient("", p, "")
	if err != nil {
		if client, err = scram.SHA256.NewClientUnprepped("", p, ""); err != nil {
			return "", fmt.Errorf("coord: scram client: %w", err)
		}
	}
	creds, err := client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: iters})
	if err != nil {
		return "", fmt.Errorf("coord: scram verifier: %w", err)
	}
	return wire.FormatSCRAMVerifier(creds), nil
}

func isMD5Hash(p string) bool {
	if len(p) != 35 || !strings.HasPrefix(p, "md5") {
		return false
	}
	for _, ch := range p[3:] {
		if !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f') {
			return false
		}
	}
	return true
}

// applyRoleOptions sets the attributes opts names on rec; it returns the
// notices to send (an empty password clears it).
func applyRoleOptions(rec *roleRecord, opts sql.RoleOptions) (*pgcode.Error, error) {
	set := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&rec.Login, opts.Login)
	set(&rec.Super, opts.Superuser)
	set(&rec.CreateRole, opts.CreateRole)
	set(&rec.CreateDB, opts.CreateDB)
	set(&rec.Inherit, opts.Inherit)
	if !opts.PasswordSet {
		return nil, nil
	}
	if opts.Password == nil {
		rec.Verifier = ""
		return nil, nil
	}
	if *opts.Password == "" {
		rec.Verifier = ""
		return &pgcode.Error{Code: pgcode.SuccessfulCompletion, Severity: pgcode.SeverityNotice, Message: "empty string is not a valid password, clearing password"}, nil
	}
	v, err := passwordVerifier(*opts.Password)
	if err != nil {
		return nil, err
	}
	rec.Verifier = v
	return nil, nil
}

// actorLocked returns the role a session's statement runs as (its
// current role), nil when that role no longer exists.
func (s *session) actorLocked() *role {
	return s.c.cat.roleByName(sql.CurrentUser(s.vars.snapshot()))
}

// mayCreateRole reports whether r may create, alter or drop role target
// (nil for a new role): superusers any; CREATEROLE roles non-superusers.
func mayManageRole(r *role, targetSuper bool) bool {
	return r != nil && (r.Super || r.CreateRole && !targetSuper)
}

func (c *Coordinator) createRole(ctx context.Context, s *session, p *sql.CreateRolePlan) error {
	actor := s.actorLocked()
	if err := validRoleName(p.Name); err != nil {
		return err
	}
	if !mayManageRole(actor, false) {
		return pgcode.New(pgcode.InsufficientPrivilege, "permission denied to create role")
	}
	if p.Options.Superuser != nil && *p.Options.Superuser && !actor.Super {
		return pgcode.New(pgcode.InsufficientPrivilege, "must be superuser to create superusers")
	}
	if c.cat.roleByName(p.Name) != nil {
		return pgcode.New(pgcode.DuplicateObject, "role %q already exists", p.Name)
	}
	rec := roleRecord{Name: p.Name, Inherit: true, MemberOf: map[uint32]membership{}}
	notice, err := applyRoleOptions(&rec, p.Options)
	if err != nil {
		return err
	}
	// Memberships: IN ROLE (the new role joins), ROLE and ADMIN (others
	// join it). Each is checked as GRANT would be, before anything is
	// stored.
	for _, name := range p.Options.InRoles {
		g, err := c.grantableRoleLocked(actor, name)
		if err != nil {
			return err
		}
		rec.MemberOf[g.OID] = membership{Grantor: actor.OID}
	}
	_, oid := c.cat.allocID()
	rec.OID = oid
	changed := []roleRecord{rec}
	for i, names := range [][]string{p.Options.Members, p.Options.Admins} {
		for _, name := range names {
			m := c.cat.roleByName(name)
			if m == nil {
				return pgcode.New(pgcode.UndefinedObject, "role %q does not exist", name)
			}
			mr := copyRoleRecord(m.roleRecord)
			mr.MemberOf[oid] = membership{Admin: i == 1, Grantor: actor.OID}
			changed = append(changed, mr)
		}
	}
	rec2 := catalogRecord{Op: "roles", Roles: changed}
	if err := c.persistLocked(ctx, rec2); err != nil {
		return err
	}
	for _, r := range changed {
		c.cat.putRoleLocked(r)
	}
	c.publishLoginsLocked()
	if notice != nil && c.notice != nil {
		c.notice(notice)
	}
	return nil
}

func (c *Coordinator) alterRole(ctx context.Context, s *session, p *sql.AlterRolePlan) error {
	actor := s.actorLocked()
	r := c.cat.roleByName(p.Name)
	if r == nil {
		return pgcode.New(pgcode.UndefinedObject, "role %q does not exist", p.Name)
	}
	if r.system {
		return pgcode.New(pgcode.InsufficientPrivilege, "cannot alter reserved role %q", r.Name)
	}
	o := p.Options
	onlyPassword := o.Login == nil && o.Superuser == nil && o.CreateRole == nil && o.CreateDB == nil && o.Inherit == nil
	switch {
	case actor != nil && actor.Super:
	case o.Superuser != nil || r.Super:
		if !(onlyPassword && actor != nil && actor.OID == r.OID) {
			return pgcode.New(pgcode.InsufficientPrivilege, "must be superuser to alter superuser roles or change superuser attribute")
		}
	case mayManageRole(actor, false):
	case onlyPassword && actor != nil && actor.OID == r.OID:
		// A role may change its own password.
	default:
		return pgcode.New(pgcode.InsufficientPrivilege, "permission denied to alter role").
			WithDetail("Only roles with the CREATEROLE attribute may alter other roles.")
	}
	if r.OID == bootstrapRoleOID && o.Superuser != nil && !*o.Superuser {
		return pgcode.New(pgcode.InsufficientPrivilege, "permission denied: bootstrap user must be superuser")
	}
	rec := copyRoleRecord(r.roleRecord)
	notice, err := applyRoleOptions(&rec, o)
	if err != nil {
		return err
	}
	if err := c.persistLocked(ctx, catalogRecord{Op: "roles", Roles: []roleRecord{rec}}); err != nil {
		return err
	}
	c.cat.putRoleLocked(rec)
	c.publishLoginsLocked()
	if notice != nil && c.notice != nil {
		c.notice(notice)
	}
	return nil
}

func (c *Coordinator) renameRole(ctx context.Context, s *session, p *sql.RenameRolePlan) error {
	actor := s.actorLocked()
	r := c.cat.roleByName(p.Name)
	if r == nil {
		return pgcode.New(pgcode.UndefinedObject, "role %q does not exist", p.Name)
	}
	vars := s.vars.snapshot()
	switch {
	case r.system:
		return pgcode.New(pgcode.ReservedName, "role name %q is reserved", r.Name)
	case r.Name == sql.SessionUser(vars) || r.Name == s.info.user:
		return pgcode.New(pgcode.FeatureNotSupported, "session user cannot be renamed")
	case r.Name == sql.CurrentUser(vars):
		return pgcode.New(pgcode.FeatureNotSupported, "current user cannot be renamed")
	case !mayManageRole(actor, r.Super):
		return pgcode.New(pgcode.InsufficientPrivilege, "permission denied to rename role")
	}
	if err := validRoleName(p.NewName); err != nil {
		return err
	}
	if c.cat.roleByName(p.NewName) != nil {
		return pgcode.New(pgcode.DuplicateObject, "role %q already exists", p.NewName)
	}
	rec := copyRoleRecord(r.roleRecord)
	rec.Name = p.NewName
	if err := c.persistLocked(ctx, catalogRecord{Op: "roles", Roles: []roleRecord{rec}}); err != nil {
		return err
	}
	c.cat.putRoleLocked(rec)
	c.publishLoginsLocked()
	return nil
}

func (c *Coordinator) dropRoles(ctx context.Context, s *session, p *sql.DropRolePlan) error {
	actor := s.actorLocked()
	vars := s.vars.snapshot()
	var drop []*role
	for _, name := range p.Names {
		r := c.cat.roleByName(name)
		if r == nil {
			if p.IfExists {
				if c.notice != nil {
					c.notice(&pgcode.Error{Code: pgcode.UndefinedObject, Severity: pgcode.SeverityNotice, Message: fmt.Sprintf("role %q does not exist, skipping", name)})
				}
				continue
			}
			return pgcode.New(pgcode.UndefinedObject, "role %q does not exist", name)
		}
		switch {
		case r.system:
			return pgcode.New(pgcode.ReservedName, "cannot drop reserved role %q", r.Name)
		case r.Name == sql.CurrentUser(vars):
			return pgcode.New(pgcode.ObjectInUse, "current user cannot be dropped")
		case r.Name == sql.SessionUser(vars) || r.Name == s.info.user:
			return pgcode.New(pgcode.ObjectInUse, "session user cannot be dropped")
		case !mayManageRole(actor, r.Super):
			if r.Super {
				return pgcode.New(pgcode.InsufficientPrivilege, "must be superuser to drop superusers")
			}
			return pgcode.New(pgcode.InsufficientPrivilege, "permission denied to drop role")
		case r.OID == bootstrapRoleOID:
			return pgcode.New(pgcode.DependentObjectsStillExist, "role %q cannot be dropped because some objects depend on it", r.Name).
				WithDetail("It is the bootstrap superuser, owner of the system catalog.")
		}
		if deps := c.cat.roleDependencies(r.OID); len(deps) > 0 {
			return pgcode.New(pgcode.DependentObjectsStillExist, "role %q cannot be dropped because some objects depend on it", r.Name).
				WithDetail("%s", strings.Join(deps, "\n"))
		}
		drop = append(drop, r)
	}
	for _, r := range drop {
		if err := c.persistLocked(ctx, catalogRecord{Op: "drop_role", OID: r.OID}); err != nil {
			return err
		}
		c.cat.dropRoleLocked(r.OID)
	}
	if len(drop) > 0 {
		c.publishLoginsLocked()
	}
	return nil
}

// grantableRoleLocked resolves a role actor grants membership in,
// checking that actor may: superusers any role, CREATEROLE roles any
// non-superuser role, others the roles they hold with ADMIN OPTION.
func (c *Coordinator) grantableRoleLocked(actor *role, name string) (*role, error) {
	g := c.cat.roleByName(name)
	if g == nil {
		return nil, pgcode.New(pgcode.UndefinedObject, "role %q does not exist", name)
	}
	if mayManageRole(actor, g.Super) {
		return g, nil
	}
	if actor != nil {
		if m, ok := actor.MemberOf[g.OID]; ok && m.Admin {
			return g, nil
		}
	}
	return nil, pgcode.New(pgcode.InsufficientPrivilege, "must have admin option on role %q", g.Name)
}

func (c *Coordinator) grantRoles(ctx context.Context, s *session, p *sql.GrantRolePlan) error {
	actor := s.actorLocked()
	changed := map[uint32]roleRecord{}
	var notices []*pgcode.Error
	for _, gname := range p.Roles {
		g, err := c.grantableRoleLocked(actor, gname)
		if err != nil {
			return err
		}
		for _, mname := range p.Members {
			m := c.cat.roleByName(mname)
			if m == nil {
				return pgcode.New(pgcode.UndefinedObject, "role %q does not exist", mname)
			}
			rec, ok := changed[m.OID]
			if !ok {
				rec = copyRoleRecord(m.roleRecord)
			}
			cur, isMember := rec.MemberOf[g.OID]
			switch {
			case p.Grant && isMember && (cur.Admin || !p.Admin):
				notices = append(notices, notice(fmt.Sprintf("role %q is already a member of role %q", m.Name, g.Name)))
				continue
			case p.Grant:
				// Refuse membership loops, the trivial one included: g
				// must not already be a member of m.
				if g.OID == m.OID || c.memberOfWith(g, changed)[m.OID] {
					return pgcode.New(pgcode.InvalidGrantOperation, "role %q is a member of role %q", g.Name, m.Name)
				}
				rec.MemberOf[g.OID] = membership{Admin: p.Admin || cur.Admin, Grantor: actor.OID}
			case !isMember:
				notices = append(notices, &pgcode.Error{Code: pgcode.Warning, Severity: pgcode.SeverityWarning,
					Message: fmt.Sprintf("role %q is not a member of role %q", m.Name, g.Name)})
				continue
			case p.Admin:
				cur.Admin = false
				rec.MemberOf[g.OID] = cur
			default:
				delete(rec.MemberOf, g.OID)
			}
			changed[m.OID] = rec
		}
	}
	if len(changed) > 0 {
		rec := catalogRecord{Op: "roles"}
		for _, r := range changed {
			rec.Roles = append(rec.Roles, r)
		}
		sort.Slice(rec.Roles, func(i, j int) bool { return rec.Roles[i].OID < rec.Roles[j].OID })
		if err := c.persistLocked(ctx, rec); err != nil {
			return err
		}
		for _, r := range rec.Roles {
			c.cat.putRoleLocked(r)
		}
		c.publishLoginsLocked()
	}
	for _, n := range notices {
		if c.notice != nil {
			c.notice(n)
		}
	}
	return nil
}

// memberOfWith is memberOf (ignoring INHERIT) over the catalog with the
// pending changes of a GRANT applied.
func (c *Coordinator) memberOfWith(r *role, changed map[uint32]roleRecord) map[uint32]bool {
	out := map[uint32]bool{r.OID: true}
	stack := []uint32{r.OID}
	for len(stack) > 0 {
		oid := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		var of map[uint32]membership
		if rec, ok := changed[oid]; ok {
			of = rec.MemberOf
		} else if x := c.cat.roles[oid]; x != nil {
			of = x.MemberOf
		}
		for g := range of {
			if !out[g] {
				out[g] = true
				stack = append(stack, g)
			}
		}
	}
	return out
}

func notice(msg string) *pgcode.Error {
	return &pgcode.Error{Code: pgcode.SuccessfulCompletion, Severity: pgcode.SeverityNotice, Message: msg}
}

// setRole runs SET ROLE, SET SESSION AUTHORIZATION and their RESET and
// DEFAULT forms. Both are session variables ("role" and
// "session_authorization"), so a transaction block's ROLLBACK undoes them
// as PostgreSQL does.
func (s *session) setRole(p *sql.SetVariablePlan, tag string) (wire.Result, error) {
	name := strings.ToLower(p.Name)
	value := strings.Join(p.Value, ", ")
	c := s.c
	c.mu.Lock()
	auth := c.cat.roleByName(s.info.user)
	var err error
	switch {
	case name == "role" && (p.Default || strings.EqualFold(value, "none")):
		value = "none"
	case name == "role":
		target := c.cat.roleByName(value)
		sess := c.cat.roleByName(sql.SessionUser(s.vars.snapshot()))
		switch {
		case target == nil:
			err = pgcode.New(pgcode.InvalidParameterValue, "role %q does not exist", value)
		case !c.cat.isMemberOf(sess, target.OID):
			err = pgcode.New(pgcode.InsufficientPrivilege, "permission denied to set role %q", value)
		}
	case p.Default:
		value = s.info.user
	default:
		target := c.cat.roleByName(value)
		switch {
		case target == nil:
			err = pgcode.New(pgcode.InvalidParameterValue, "role %q does not exist", value)
		case value != s.info.user && (auth == nil || !auth.Super):
			err = pgcode.New(pgcode.InsufficientPrivilege, "permission denied to set session authorization")
		}
	}
	c.mu.Unlock()
	if err != nil {
		return wire.Result{}, err
	}
	if p.Local && !s.txn.explicit {
		s.client.Notice(warning("SET LOCAL can only be used in transaction blocks"))
		return wire.Result{Tag: tag}, nil
	}
	set := func(lower, v string) {
		s.changingVar(lower)
		s.vars.values[lower] = v
		s.vars.snap = nil
		s.vars.gen++
		if !p.Local {
			s.changedVar(lower)
		}
	}
	if name == "session_authorization" {
		set("session_authorization", value)
		set("role", "none")
		s.client.ParameterStatus("session_authorization", value)
	} else {
		set("role", value)
	}
	s.syncSuperuser()
	return wire.Result{Tag: tag}, nil
}

// syncSuperuser sets is_superuser to the current role's SUPERUSER
// attribute, reporting a change to the client.
func (s *session) syncSuperuser() {
	s.c.mu.Lock()
	r := s.actorLocked()
	s.c.mu.Unlock()
	v := "off"
	if r != nil && r.Super {
		v = "on"
	}
	if s.vars.must("is_superuser") == v {
		return
	}
	s.vars.values["is_superuser"] = v
	s.vars.snap = nil
	s.vars.gen++
	s.client.ParameterStatus("is_superuser", v)
}

// startAuth sets a new (or DISCARDed) session's user: session_authorization
// is the authenticated role, role is none, is_superuser its attribute.
func (s *session) startAuth() {
	s.vars.values["session_authorization"] = s.info.user
	s.vars.snap = nil
	s.vars.gen++
	s.syncSuperuser()
}
