package archtest

import (
	"go/ast"
	"go/token"
	"path"
	"strconv"
	"strings"
)

// statement reports the SQL argument e of a call: its text, or, when it is
// a string parameter of the enclosing function (a helper that runs what
// its callers pass, found as literals there), nothing; anything else that
// cannot be worked out is reported unresolved. Arguments that cannot be
// SQL (a context, a struct) are not reported.
func (r resolver) statement(e ast.Expr, report func(sql string, unresolved bool)) {
	if sql, ok := r.str(e, 0); ok {
		report(sql, false)
		return
	}
	switch e := e.(type) {
	case *ast.BasicLit, *ast.CompositeLit, *ast.FuncLit, *ast.UnaryExpr:
		return
	case *ast.Ident:
		if e.Obj == nil {
			break
		}
		switch d := e.Obj.Decl.(type) {
		case *ast.Field:
			if t, ok := d.Type.(*ast.Ident); ok && t.Name == "string" {
				report(ParameterSQL, false)
			}
			return
		case *ast.AssignStmt:
			// b := &pgx.Batch{}: no string.
			if len(d.Rhs) == len(d.Lhs) {
				for i, l := range d.Lhs {
					if l, ok := l.(*ast.Ident); ok && l.Name == e.Name {
						switch d.Rhs[i].(type) {
						case *ast.UnaryExpr, *ast.CompositeLit, *ast.FuncLit:
							return
						}
					}
				}
			}
		}
	}
	report(unknown, true)
}

// isPackage reports whether x names a package the file imports.
func isPackage(f *ast.File, x ast.Expr) bool {
	id, ok := x.(*ast.Ident)
	if !ok || id.Obj != nil {
		return false
	}
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		name := path.Base(p)
		if im.Name != nil {
			name = im.Name.Name
		}
		if name == id.Name {
			return true
		}
	}
	return false
}

// firstLiteral is the position of the leftmost operand of a concatenation.
func firstLiteral(e ast.Expr) token.Pos {
	for {
		b, ok := e.(*ast.BinaryExpr)
		if !ok {
			return e.Pos()
		}
		e = b.X
	}
}

// ParameterSQL is the SQL of a site that runs a string parameter: its
// statements are the callers' literals.
const ParameterSQL = "(parameter)"

// resolver works a string expression out from the source.
type resolver struct {
	s  *scanner
	p  *pkg
	f  *ast.File
	fn *ast.FuncDecl // the function the expression is in, if known
	// used collects the positions of the literals a statement was read
	// from.
	used map[token.Pos]bool
}

// maxDepth bounds how far names are followed (a constant made of
// constants made of ...).
const maxDepth = 8

// str returns the value of e as far as the source tells it, with unknown
// for the parts computed at run time; ok is false when nothing at all is
// known.
func (r resolver) str(e ast.Expr, depth int) (string, bool) {
	if depth > maxDepth {
		return unknown, false
	}
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return unknown, false
		}
		v, err := strconv.Unquote(e.Value)
		if err == nil && r.used != nil {
			r.used[e.Pos()] = true
		}
		return v, err == nil
	case *ast.ParenExpr:
		return r.str(e.X, depth)
	case *ast.BinaryExpr:
		// The tree is finite: only names and calls count towards depth.
		if e.Op != token.ADD {
			return unknown, false
		}
		a, okA := r.str(e.X, depth)
		b, okB := r.str(e.Y, depth)
		return a + b, okA || okB
	case *ast.Ident:
		return r.ident(e, depth)
	case *ast.SelectorExpr:
		// A constant of another scanned package: pkgname.Name.
		if x, ok := e.X.(*ast.Ident); ok {
			if p := r.imported(x.Name); p != nil {
				if v, ok := p.values[e.Sel.Name]; ok {
					return resolver{s: r.s, p: p, used: r.used}.str(v, depth+1)
				}
			}
		}
	case *ast.CallExpr:
		// fmt.Sprintf(format, ...): the format, with its verbs unknown.
		if sel, ok := e.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Sprintf" && len(e.Args) > 0 {
			return r.str(e.Args[0], depth+1)
		}
		// A function of the package that builds SQL: what it returns.
		if id, ok := e.Fun.(*ast.Ident); ok && r.p.funcs[id.Name] != nil {
			return r.returned(e, 0, depth+1)
		}
	}
	return unknown, false
}

// ident follows a name: a local variable (and what is added to it later),
// or a constant or variable of the package.
func (r resolver) ident(id *ast.Ident, depth int) (string, bool) {
	if id.Obj != nil {
		switch d := id.Obj.Decl.(type) {
		case *ast.ValueSpec:
			for i, n := range d.Names {
				if n.Name == id.Name && i < len(d.Values) {
					v, ok := r.str(d.Values[i], depth+1)
					return v + r.appended(id), ok
				}
			}
			return unknown, false
		case *ast.AssignStmt:
			for i, n := range d.Lhs {
				n, isIdent := n.(*ast.Ident)
				if !isIdent || n.Name != id.Name {
					continue
				}
				if len(d.Rhs) == len(d.Lhs) {
					v, ok := r.str(d.Rhs[i], depth+1)
					return v + r.appended(id), ok
				}
				if len(d.Rhs) == 1 {
					// sql, args := insert(e): the function's i-th results.
					return r.returned(d.Rhs[0], i, depth)
				}
			}
			return unknown, false
		case *ast.Field:
			// A parameter: what the package's callers pass.
			return r.passed(d, id.Name, depth)
		}
		return unknown, false
	}
	if v, ok := r.p.values[id.Name]; ok {
		return r.str(v, depth+1)
	}
	return unknown, false
}

// passed works out a parameter of the enclosing named function from its
// calls in the package: every caller's argument, joined; ok is false when
// no caller's could be worked out.
func (r resolver) passed(field *ast.Field, name string, depth int) (string, bool) {
	if r.fn == nil || depth > maxDepth {
		return unknown, false
	}
	index, n := -1, 0
	for _, f := range r.fn.Type.Params.List {
		for _, fname := range f.Names {
			if f == field && fname.Name == name {
				index = n
			}
			n++
		}
	}
	if index < 0 {
		return unknown, false // a parameter of a function literal
	}
	method := r.fn.Recv != nil
	var parts []string
	for _, f := range r.p.files {
		var enclosing *ast.FuncDecl
		ast.Inspect(f, func(node ast.Node) bool {
			if fd, ok := node.(*ast.FuncDecl); ok {
				enclosing = fd
			}
			c, ok := node.(*ast.CallExpr)
			if !ok || index >= len(c.Args) {
				return true
			}
			switch fun := c.Fun.(type) {
			case *ast.Ident:
				if method || fun.Name != r.fn.Name.Name {
					return true
				}
			case *ast.IndexExpr: // an explicitly instantiated generic
				if id, ok := fun.X.(*ast.Ident); !ok || method || id.Name != r.fn.Name.Name {
					return true
				}
			case *ast.SelectorExpr:
				if !method || fun.Sel.Name != r.fn.Name.Name {
					return true
				}
			default:
				return true
			}
			caller := resolver{s: r.s, p: r.p, f: f, fn: enclosing, used: r.used}
			if v, ok := caller.str(c.Args[index], depth+1); ok {
				parts = append(parts, v)
			}
			return true
		})
	}
	if len(parts) == 0 {
		return unknown, false
	}
	return strings.Join(parts, "; "), true
}

// appended returns what the function body adds to a local variable with +=.
func (r resolver) appended(id *ast.Ident) string {
	if r.fn == nil || r.fn.Body == nil {
		return ""
	}
	var b strings.Builder
	ast.Inspect(r.fn.Body, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || as.Tok != token.ADD_ASSIGN || len(as.Lhs) != 1 {
			return true
		}
		if l, ok := as.Lhs[0].(*ast.Ident); ok && l.Obj != nil && l.Obj == id.Obj {
			v, _ := r.str(as.Rhs[0], maxDepth-1)
			b.WriteString(" " + v)
		}
		return true
	})
	return b.String()
}

// returned works out the i-th result of a call to a function of the same
// package: all its return statements' i-th values, joined.
func (r resolver) returned(call ast.Expr, i, depth int) (string, bool) {
	c, ok := call.(*ast.CallExpr)
	if !ok {
		return unknown, false
	}
	fn, ok := c.Fun.(*ast.Ident)
	if !ok {
		return unknown, false
	}
	decl := r.p.funcs[fn.Name]
	if decl == nil || decl.Body == nil {
		return unknown, false
	}
	var parts []string
	found := false
	inner := resolver{s: r.s, p: r.p, f: r.f, fn: decl, used: r.used}
	ast.Inspect(decl.Body, func(n ast.Node) bool {
		if _, ok := n.(*ast.FuncLit); ok {
			return false
		}
		ret, ok := n.(*ast.ReturnStmt)
		if !ok || i >= len(ret.Results) {
			return true
		}
		v, ok := inner.str(ret.Results[i], depth+1)
		if ok && v != "" {
			parts = append(parts, v)
			found = true
		}
		return true
	})
	return strings.Join(parts, "; "), found
}

// imported returns the scanned package a file imports under name.
func (r resolver) imported(name string) *pkg {
	if r.f == nil {
		return nil
	}
	for _, im := range r.f.Imports {
		p, err := strconv.Unquote(im.Path.Value)
		if err != nil {
			continue
		}
		local := path.Base(p)
		if im.Name != nil {
			local = im.Name.Name
		}
		if local != name {
			continue
		}
		for dir, pk := range r.s.pkgs {
			if dir != "." && strings.HasSuffix(p, "/"+dir) {
				return pk
			}
		}
	}
	return nil
}

// identifier reads pgx.Identifier{"table"} (or {"schema", "table"}).
func (r resolver) identifier(e ast.Expr) (string, bool) {
	cl, ok := e.(*ast.CompositeLit)
	if !ok || len(cl.Elts) == 0 {
		return unknown, false
	}
	v, ok := r.str(cl.Elts[len(cl.Elts)-1], 0)
	return v, ok
}
