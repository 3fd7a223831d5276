package userdata

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
)

// Limits on expressions.
const (
	// MaxExpressions is the most keys one expression setting may map.
	MaxExpressions = 30
	// MaxExpressionLength bounds one expression's source, in bytes.
	MaxExpressionLength = 2048
	// MaxEstimatedCost refuses, when saved, an expression whose worst case
	// over inputs of at most MaxDocumentBytes is more than this. The
	// estimate takes every list, map and string as large as a whole document,
	// so one loop over metadata stays below it and a loop inside a loop does
	// not; RuntimeCostLimit is what bounds the actual work.
	MaxEstimatedCost = 100_000_000
	// RuntimeCostLimit stops one evaluation that goes beyond it.
	RuntimeCostLimit = 100_000
	// maxKeyLength bounds an output key.
	maxKeyLength = 64
)

// ReservedClaims are the JWT claims HALLPASS_JWT_CLAIMS may not set.
var ReservedClaims = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "token_use", "sid"}

// Email is one of the user's addresses (user.emails).
type Email struct {
	Email    string `cel:"email"`
	Verified bool   `cel:"verified"`
	Primary  bool   `cel:"primary"`
}

// User is the variable `user`: what an expression may read of the user
// being serialized. private_metadata is not there: it never leaves the
// backend, and tokens and user objects both reach the frontend.
type User struct {
	ID                int64          `cel:"id"`
	Email             string         `cel:"email"`
	Username          string         `cel:"username"`
	Display           string         `cel:"display"`
	Profile           map[string]any `cel:"profile"`
	PublicMetadata    map[string]any `cel:"public_metadata"`
	Emails            []Email        `cel:"emails"`
	HasUsablePassword bool           `cel:"has_usable_password"`
	MFA               []string       `cel:"mfa"`
	DateJoined        time.Time      `cel:"date_joined"`
	LastLogin         time.Time      `cel:"last_login"`
}

// Tenant is the variable `tenant`.
type Tenant struct {
	Slug string `cel:"slug"`
	Name string `cel:"name"`
}

// Input is what one evaluation reads. Build User with NewUser so that its
// documents are in CEL's shape.
type Input struct {
	User   *User
	Tenant Tenant
	// Now is the variable `now`, the only clock an expression sees.
	Now time.Time
}

// NewUser returns u with its profile and public metadata converted for
// CEL (whole numbers as int, nil documents as empty maps).
func NewUser(u User) *User {
	u.Profile = asCELMap(u.Profile)
	u.PublicMetadata = asCELMap(u.PublicMetadata)
	if u.MFA == nil {
		u.MFA = []string{}
	}
	if u.Emails == nil {
		u.Emails = []Email{}
	}
	return &u
}

func asCELMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return celValue(m).(map[string]any)
}

var (
	envOnce sync.Once
	baseEnv *cel.Env
	envErr  error
)

// environment is the one CEL environment every expression is compiled in:
// the three variables, the standard library and the strings extension, and
// nothing that reaches the network, the files or the clock.
func environment() (*cel.Env, error) {
	envOnce.Do(func() {
		baseEnv, envErr = cel.NewEnv(
			ext.NativeTypes(ext.ParseStructTags(true), reflect.TypeFor[User](), reflect.TypeFor[Email](), reflect.TypeFor[Tenant]()),
			cel.Variable("user", cel.ObjectType("userdata.User")),
			cel.Variable("tenant", cel.ObjectType("userdata.Tenant")),
			cel.Variable("now", cel.TimestampType),
			ext.Strings(),
			cel.OptionalTypes(),
		)
	})
	return baseEnv, envErr
}

// ExprError is an expression a setting refused: Key is the output key,
// Line and Column (1-based; 0 when not about a place) where in its source.
type ExprError struct {
	Key     string
	Line    int
	Column  int
	Message string
}

func (e *ExprError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%q: line %d, column %d: %s", e.Key, e.Line, e.Column, e.Message)
	}
	return fmt.Sprintf("%q: %s", e.Key, e.Message)
}

// CompileOptions say what one setting's keys may be.
type CompileOptions struct {
	// Reserved output keys (allauth's user keys, or the reserved claims).
	Reserved []string
	// Fields are the declared profile fields: user.profile.X must name one.
	Fields Fields
}

// Exprs is one expression setting, compiled: evaluated once per user and
// settings version, never compiled per request.
type Exprs struct {
	source    map[string]string
	keys      []string
	progs     []cel.Program
	usesNow   bool
	jsonTypes []string // the keys' JSON Schema types, from the checked output types ("" when dynamic)
}

// Source returns the setting's value as written.
func (e *Exprs) Source() map[string]string {
	if e == nil {
		return map[string]string{}
	}
	out := make(map[string]string, len(e.source))
	for k, v := range e.source {
		out[k] = v
	}
	return out
}

// Empty reports whether there is nothing to evaluate.
func (e *Exprs) Empty() bool { return e == nil || len(e.keys) == 0 }

// UsesNow reports whether an expression reads `now`, so that its results
// cannot be reused for the same user and settings.
func (e *Exprs) UsesNow() bool { return e != nil && e.usesNow }

// ParseExprs reads an expression setting from its JSON-decoded form (an
// object of strings) and compiles it.
func ParseExprs(v any, opts CompileOptions) (*Exprs, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("must be an object mapping keys to CEL expressions")
	}
	src := make(map[string]string, len(m))
	for k, x := range m {
		s, ok := x.(string)
		if !ok {
			return nil, &ExprError{Key: k, Message: "must be a string holding a CEL expression"}
		}
		src[k] = s
	}
	return Compile(src, opts)
}

// compiled remembers recent compilations by source and options: tenants
// that share expressions share programs, and parsing the same settings
// twice yields the same *Exprs.
var compiled = struct {
	sync.Mutex
	m map[string]*Exprs
}{m: map[string]*Exprs{}}

// maxCompiled bounds the memory of compiled; past it, it starts afresh.
const maxCompiled = 1024

// Compile type-checks every expression and bounds its cost; the first
// problem (by key) is returned as an *ExprError.
func Compile(src map[string]string, opts CompileOptions) (*Exprs, error) {
	id, _ := json.Marshal([]any{src, opts.Reserved, opts.Fields})
	compiled.Lock()
	ex, ok := compiled.m[string(id)]
	compiled.Unlock()
	if ok {
		return ex, nil
	}
	ex, err := compile(src, opts)
	if err != nil {
		return nil, err
	}
	compiled.Lock()
	if len(compiled.m) >= maxCompiled {
		compiled.m = map[string]*Exprs{}
	}
	compiled.m[string(id)] = ex
	compiled.Unlock()
	return ex, nil
}

func compile(src map[string]string, opts CompileOptions) (*Exprs, error) {
	env, err := environment()
	if err != nil {
		return nil, fmt.Errorf("userdata: environment: %w", err)
	}
	if len(src) > MaxExpressions {
		return nil, fmt.Errorf("at most %d keys", MaxExpressions)
	}
	out := &Exprs{source: maps.Clone(src), keys: make([]string, 0, len(src))}
	for k := range src {
		out.keys = append(out.keys, k)
	}
	sort.Strings(out.keys)
	out.progs, out.jsonTypes = make([]cel.Program, len(out.keys)), make([]string, len(out.keys))
	for i, k := range out.keys {
		prog, usesNow, jsonType, err := compileOne(env, k, src[k], opts)
		if err != nil {
			return nil, err
		}
		out.progs[i], out.jsonTypes[i] = prog, jsonType
		out.usesNow = out.usesNow || usesNow
	}
	return out, nil
}

func compileOne(env *cel.Env, key, src string, opts CompileOptions) (cel.Program, bool, string, error) {
	switch {
	case !fieldNamePattern.MatchString(key) && !claimNameOK(key):
		return nil, false, "", &ExprError{Key: key, Message: "keys must be 1..64 characters of letters, digits, _ - . :"}
	case slices.Contains(opts.Reserved, key):
		return nil, false, "", &ExprError{Key: key, Message: "reserved: Hallpass sets it"}
	case strings.TrimSpace(src) == "":
		return nil, false, "", &ExprError{Key: key, Message: "empty expression"}
	case len(src) > MaxExpressionLength:
		return nil, false, "", &ExprError{Key: key, Message: fmt.Sprintf("longer than %d bytes", MaxExpressionLength)}
	}
	checked, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		first := iss.Errors()[0]
		return nil, false, "", &ExprError{Key: key, Line: first.Location.Line(), Column: first.Location.Column() + 1, Message: first.Message}
	}
	if err := checkProfileFields(key, src, checked, opts.Fields); err != nil {
		return nil, false, "", err
	}
	est, err := env.EstimateCost(checked, boundedSizes{})
	if err != nil {
		return nil, false, "", &ExprError{Key: key, Message: "cost cannot be bounded: " + err.Error()}
	}
	if est.Max > MaxEstimatedCost {
		return nil, false, "", &ExprError{Key: key, Message: fmt.Sprintf("too costly: worst case %d, limit %d (avoid nested loops over metadata)", est.Max, MaxEstimatedCost)}
	}
	prog, err := env.Program(checked, cel.CostLimit(RuntimeCostLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, false, "", &ExprError{Key: key, Message: err.Error()}
	}
	return prog, readsNow(checked), jsonSchemaType(checked.OutputType()), nil
}

// claimNameOK allows claim names beyond field names: namespaced claims such
// as "https://example.com/roles" are common. Letters, digits and _-.:/ only.
func claimNameOK(k string) bool {
	if k == "" || len(k) > maxKeyLength {
		return false
	}
	for _, r := range k {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-.:/", r)
		if !ok {
			return false
		}
	}
	return true
}

// checkProfileFields refuses user.profile.X (and has(user.profile.X)) for
// an X that is not a declared field: a typo would otherwise only show as
// a key missing at run time.
func checkProfileFields(key, src string, checked *cel.Ast, fields Fields) error {
	native := checked.NativeRep()
	var bad *ExprError
	ast.PreOrderVisit(native.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if bad != nil || e.Kind() != ast.SelectKind {
			return
		}
		sel := e.AsSelect()
		op := sel.Operand()
		if op.Kind() != ast.SelectKind || op.AsSelect().FieldName() != "profile" {
			return
		}
		if root := op.AsSelect().Operand(); root.Kind() != ast.IdentKind || root.AsIdent() != "user" {
			return
		}
		if _, ok := fields.Lookup(sel.FieldName()); ok {
			return
		}
		loc := native.SourceInfo().GetStartLocation(e.ID())
		bad = &ExprError{Key: key, Line: loc.Line(), Column: loc.Column() + 1,
			Message: fmt.Sprintf("user.profile.%s: no such field in HALLPASS_USER_FIELDS", sel.FieldName())}
	}))
	_ = src
	if bad != nil {
		return bad
	}
	return nil
}

// readsNow reports whether the checked expression refers to `now`.
func readsNow(checked *cel.Ast) bool {
	for _, r := range checked.NativeRep().ReferenceMap() {
		if r.Name == "now" {
			return true
		}
	}
	return false
}

// boundedSizes tells the cost estimator that no input is larger than a
// document may be.
type boundedSizes struct{}

func (boundedSizes) EstimateSize(cost.AstNode) *cost.SizeEstimate {
	return &cost.SizeEstimate{Min: 0, Max: MaxDocumentBytes}
}

// EstimateCallCost bounds the results of the optional-value functions,
// whose size the standard estimate leaves unknown (so that
// `user.profile.?name.orValue("")` is not taken as unbounded).
func (boundedSizes) EstimateCallCost(function, _ string, _ *cost.AstNode, _ []cost.AstNode) *cost.CallEstimate {
	switch function {
	case "orValue", "value", "or":
		return &cost.CallEstimate{CostEstimate: cost.CallCostEstimate,
			ResultSize: &cost.SizeEstimate{Min: 0, Max: MaxDocumentBytes}}
	}
	return nil
}

// KeyError is one key whose evaluation failed at run time (a missing map
// key, a type mismatch, the cost limit): the key is dropped.
type KeyError struct {
	Key string
	Err error
}

// Eval runs every expression over in and returns the results in JSON's
// shape (null, bool, int64, float64, string, []any, map[string]any);
// a key that fails is left out and reported.
func (e *Exprs) Eval(in *Input) (map[string]any, []KeyError) {
	if e.Empty() {
		return nil, nil
	}
	act := &activation{in: in}
	out := make(map[string]any, len(e.keys))
	var failed []KeyError
	for i, k := range e.keys {
		val, _, err := e.progs[i].Eval(act)
		if err == nil {
			var v any
			v, err = toJSON(val, 0)
			if err == nil {
				out[k] = v
				continue
			}
		}
		failed = append(failed, KeyError{Key: k, Err: err})
	}
	return out, failed
}

// Render is Eval encoded as a JSON object (keys sorted).
func (e *Exprs) Render(in *Input) (json.RawMessage, []KeyError) {
	m, failed := e.Eval(in)
	if m == nil {
		return nil, failed
	}
	b, err := json.Marshal(m)
	if err != nil { // toJSON only produces encodable values
		return nil, append(failed, KeyError{Key: "*", Err: err})
	}
	return b, failed
}

// activation resolves the three variables without a map per evaluation.
type activation struct{ in *Input }

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "user":
		if a.in.User == nil {
			return nil, false
		}
		return a.in.User, true
	case "tenant":
		return &a.in.Tenant, true
	case "now":
		return a.in.Now, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// toJSON converts a CEL result to JSON's shape. Timestamps become RFC 3339
// strings, durations Go's duration strings, bytes base64.
func toJSON(v ref.Val, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("result nests too deep")
	}
	switch x := v.(type) {
	case types.Null:
		return nil, nil
	case types.Bool:
		return bool(x), nil
	case types.Int:
		return int64(x), nil
	case types.Uint:
		return uint64(x), nil
	case types.Double:
		return float64(x), nil
	case types.String:
		return string(x), nil
	case types.Bytes:
		return base64.StdEncoding.EncodeToString(x), nil
	case types.Timestamp:
		return x.Time.UTC().Format(time.RFC3339Nano), nil
	case types.Duration:
		return x.Duration.String(), nil
	case *types.Optional:
		if !x.HasValue() {
			return nil, nil
		}
		return toJSON(x.GetValue(), depth+1)
	case *types.Err:
		return nil, x
	}
	if l, ok := v.(traits.Lister); ok {
		n, _ := l.Size().(types.Int)
		out := make([]any, 0, int(n))
		for it := l.Iterator(); it.HasNext() == types.True; {
			e, err := toJSON(it.Next(), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	}
	if m, ok := v.(traits.Mapper); ok {
		out := map[string]any{}
		for it := m.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			ks, ok := k.(types.String)
			if !ok {
				return nil, errors.New("a map result needs string keys")
			}
			e, err := toJSON(m.Get(k), depth+1)
			if err != nil {
				return nil, err
			}
			out[string(ks)] = e
		}
		return out, nil
	}
	if v.Type() == types.TypeType || strings.HasPrefix(v.Type().TypeName(), "userdata.") {
		return nil, fmt.Errorf("a %s cannot be returned; return its fields", v.Type().TypeName())
	}
	return nil, fmt.Errorf("a %s cannot be returned", v.Type().TypeName())
}
