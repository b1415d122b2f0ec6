//! CEL, the Common Expression Language, as Kyverno and Kubernetes use it (`validate.cel` in
//! ClusterPolicies, the `policies.kyverno.io` kinds).
//!
//! Why our own: the `cel` crate (cel-rust 0.15) was measured first on every CEL expression of
//! the Kyverno policy library (576 in ClusterPolicies, ValidatingPolicies, MutatingPolicies and
//! GeneratingPolicies): it parses 350; the other 226 use the optional syntax (`a.?b`,
//! `.orValue()`) that Kubernetes enables and its grammar lacks, and the Kubernetes libraries
//! (quantity, url, ip and cidr, sets, format) would all have to be added beside it. This module
//! is written from the CEL spec (github.com/google/cel-spec, doc/langdef.md).
//!
//! Status: the parser, and the core of evaluation (`eval`); the function libraries and the
//! policy kinds follow (issue 9).

pub mod eval;
mod lexer;
pub mod parser;

pub use eval::{eval, Env, EvalError, Val};
pub use parser::{parse, BinaryOp, Expr, ParseError, UnaryOp};

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Expr {
        parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn precedence_and_associativity() {
        use BinaryOp::{Add, And, Mul, Or};
        let e = ok("a || b && c");
        assert!(matches!(e, Expr::Binary(Or, _, ref r) if matches!(**r, Expr::Binary(And, _, _))));
        let e = ok("1 + 2 * 3");
        assert!(matches!(e, Expr::Binary(Add, _, ref r) if matches!(**r, Expr::Binary(Mul, _, _))));
        let e = ok("a ? b : c ? d : e");
        assert!(
            matches!(e, Expr::Conditional(_, _, ref r) if matches!(**r, Expr::Conditional(..)))
        );
        assert_eq!(ok("-9223372036854775808"), Expr::Int(i64::MIN));
        assert_eq!(
            ok("!!true"),
            Expr::Unary(
                UnaryOp::Not,
                Box::new(Expr::Unary(UnaryOp::Not, Box::new(Expr::Bool(true))))
            )
        );
    }

    #[test]
    fn kubernetes_optionals_and_macros() {
        let e = ok(
            "object.spec.?securityContext.?sysctls.orValue([]).all(s, s.name in variables.allowed)",
        );
        let Expr::Call { target: Some(target), function, args } = e else { panic!() };
        assert_eq!(function, "all");
        assert_eq!(args.len(), 2);
        let Expr::Call { target: Some(inner), function, .. } = *target else { panic!() };
        assert_eq!(function, "orValue");
        assert!(
            matches!(*inner, Expr::Select { optional: true, ref field, .. } if field == "sysctls")
        );
        assert!(matches!(ok("m[?'k']"), Expr::Index { optional: true, .. }));
        assert!(matches!(ok("[?a, b]"), Expr::List(ref l) if l[0].1 && !l[1].1));
        assert!(matches!(ok("{?'a': x}"), Expr::Map(ref m) if m[0].2));
        assert!(matches!(ok("has(object.metadata.labels)"), Expr::Call { target: None, .. }));
        // Reserved words may name fields (Kubernetes objects have `namespace`).
        assert!(
            matches!(ok("object.metadata.namespace"), Expr::Select { ref field, .. } if field == "namespace")
        );
        assert!(
            matches!(ok("google.protobuf.Int64Value{value: 1}"), Expr::Struct { ref name, .. } if name == "google.protobuf.Int64Value")
        );
    }

    #[test]
    fn literals() {
        assert_eq!(ok("0x1F"), Expr::Int(31));
        assert_eq!(ok("7u"), Expr::Uint(7));
        assert_eq!(ok("1.5e3"), Expr::Double(1500.0));
        assert_eq!(ok(r#""a\tb\u00e9""#), Expr::String("a\tbé".into()));
        assert_eq!(ok(r"r'\d+'"), Expr::String(r"\d+".into()));
        assert_eq!(ok("'''two\nlines'''"), Expr::String("two\nlines".into()));
        assert_eq!(ok(r"b'\x00\377\xff'"), Expr::Bytes(vec![0, 255, 255]));
        assert_eq!(ok(r"'\xff'"), Expr::String("\u{ff}".into()));
        assert_eq!(ok("// a comment\n  null"), Expr::Null);
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let cases = [
            ("object.spec.", 1, 13, "expected a name, found end of expression"),
            ("a &&\n  (b ||", 2, 8, "unexpected end of expression"),
            ("'open", 1, 1, "unterminated string"),
            ("1 + = 2", 1, 5, "unexpected `=`"),
            ("if + 1", 1, 1, "`if` is a reserved word"),
            ("99999999999999999999", 1, 1, "integer `99999999999999999999` is out of range"),
            ("a b", 1, 3, "unexpected `b`"),
        ];
        for (text, line, column, message) in cases {
            let e = parse(text).expect_err(text);
            assert_eq!((e.line, e.column), (line, column), "{text}: {e}");
            assert!(e.message.contains(message), "{text}: {e}");
        }
        let deep = "(".repeat(500) + "1" + &")".repeat(500);
        assert!(parse(&deep).unwrap_err().message.contains("nests deeper than 64"));
    }
}
