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
//! Layout: `lexer` and `parser` (text to [`Expr`]), `eval` (values, operators, macros, the
//! environment), `functions` (standard and extension functions), `time`, `ext` (quantity, url,
//! ip, cidr, image) and `kyverno` (lookups served from the tree).

pub mod admission;
pub mod eval;
pub mod ext;
mod functions;
mod kyverno;
mod lexer;
pub mod parser;
pub mod time;

pub use eval::{eval, Env, EvalError, Host, Val, Variables};
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

    fn value(text: &str) -> Result<Val, EvalError> {
        let vars = std::collections::BTreeMap::new();
        let mut env = Env::new(&vars, 100_000);
        eval(&ok(text), &mut env)
    }

    fn truth(text: &str) -> bool {
        match value(text) {
            Ok(Val::Bool(b)) => b,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn error(text: &str) -> String {
        value(text).expect_err(text).to_string()
    }

    #[test]
    fn kubernetes_libraries() {
        // quantity
        assert!(truth("quantity('500m').isLessThan(quantity('1'))"));
        assert!(truth("quantity('1Gi').compareTo(quantity('1024Mi')) == 0"));
        assert!(truth("quantity('1Gi') == quantity('1073741824')"));
        assert!(truth("quantity('1.5').add(1).asApproximateFloat() == 2.5"));
        assert!(truth("quantity('2k').sub(quantity('500')).asInteger() == 1500"));
        assert!(truth("!isQuantity('1Gb') && isQuantity('10Ki')"));
        assert!(error("quantity('1.5').asInteger()").contains("not an integer"));
        // url
        assert!(truth("url('https://ex.com:8443/a?x=1&x=2').getQuery()['x'] == ['1', '2']"));
        assert!(truth("url('https://ex.com:8443/a').getPort() == '8443'"));
        assert!(truth("url('https://[::1]/').getHostname() == '::1'"));
        assert!(truth("!isURL('not a url')"));
        // ip and cidr
        assert!(truth("cidr('10.0.0.0/8').containsIP(ip('10.1.2.3'))"));
        assert!(truth("cidr('10.0.0.0/8').containsIP('10.1.2.3')"));
        assert!(truth("cidr('10.0.0.0/8').containsCIDR('10.1.0.0/16')"));
        assert!(truth("!cidr('10.0.0.0/16').containsCIDR('10.0.0.0/8')"));
        assert!(truth("string(cidr('192.168.1.7/24').masked()) == '192.168.1.0/24'"));
        assert!(truth("ip('::1').family() == 6 && ip('127.0.0.1').isLoopback()"));
        assert!(truth("ip('10.0.0.1').isGlobalUnicast() && !ip('0.0.0.0').isGlobalUnicast()"));
        assert!(truth("!isIP('::ffff:1.2.3.4') && ip.isCanonical('10.0.0.1')"));
        // image (Kyverno)
        assert!(truth("image('nginx:1.25').registry() == 'docker.io'"));
        assert!(truth("image('corp.reg.com/team/app@sha256:ab').containsDigest()"));
        assert!(truth("image('ghcr.io/a/b:v1').repository() == 'a/b'"));
    }

    #[test]
    fn lists_sets_strings_and_format() {
        assert!(truth("[1, 2, 3].sum() == 6 && [3, 1, 2].min() == 1 && ['a', 'c'].max() == 'c'"));
        assert!(truth("[1, 2, 2].isSorted() && ![2, 1].isSorted()"));
        assert!(truth("[1, 2, 1].indexOf(1) == 0 && [1, 2, 1].lastIndexOf(1) == 2"));
        assert!(truth("[[1], [2, 3]].flatten() == [1, 2, 3] && [1, 1, 2].distinct() == [1, 2]"));
        assert!(truth("[3, 1, 2].sort() == [1, 2, 3] && [1, 2, 3].slice(1, 3) == [2, 3]"));
        assert!(truth("lists.range(3) == [0, 1, 2] && [].first() == optional.none()"));
        assert!(truth("sets.contains([1, 2, 3], [2, 3]) && !sets.contains([1], [2])"));
        assert!(truth("sets.equivalent([1, 2], [2, 1, 1]) && sets.intersects([1], [1, 5])"));
        assert!(truth("'a,b,c'.split(',', 2) == ['a', 'b,c'] && 'abc'.charAt(1) == 'b'"));
        assert!(truth("'abc'.reverse() == 'cba' && 'aaa'.replace('a', 'b', 2) == 'bba'"));
        assert!(truth("'x1y22'.findAll('[0-9]+') == ['1', '22'] && 'x1y'.find('[0-9]') == '1'"));
        assert!(truth(
            "'%s has %d pods (%.1f%%), %x'.format(['web', 3, 12.345, 255]) \
             == 'web has 3 pods (12.3%), ff'"
        ));
        assert!(truth("strings.quote('a\"b') == '\"a\\\\\"b\"'"));
        assert!(truth("base64.decode(base64.encode(b'hi')) == b'hi'"));
        assert!(error("'%d'.format(['x'])").contains("does not take a `string`"));
        assert!(error("'%.999999999f'.format([1.0])").contains("precision"));
    }

    #[test]
    fn optionals_time_and_conversions() {
        assert!(truth("optional.of(1).or(optional.of(2)).value() == 1"));
        assert!(truth("optional.ofNonZeroValue('').orValue('d') == 'd'"));
        // cel-go returns a non-optional receiver of orValue as it is.
        assert!(truth("[1].orValue([]) == [1]"));
        // The rest of an optional chain is optional.
        assert!(truth("{'a': {}}.?a.b.orValue(7) == 7"));
        assert!(truth("{'a': {'b': 1}}.?a.b.orValue(7) == 1"));
        assert!(truth("duration('1h30m') == duration('90m') && duration('1h').getMinutes() == 60"));
        assert!(truth("string(duration('1.5s')) == '1.5s'"));
        assert!(truth(
            "timestamp('2024-01-02T03:04:05Z') - timestamp('2024-01-01T03:04:05Z') \
             == duration('24h')"
        ));
        assert!(truth("timestamp('2024-01-02T03:04:05Z') + duration('1h') > timestamp('2024-01-02T04:00:00Z')"));
        assert!(truth("timestamp('2024-03-01T00:00:00Z').getMonth() == 2"));
        assert!(truth("timestamp('2024-03-01T00:30:00Z').getHours('+05:30') == 6"));
        assert!(truth("int(timestamp('1970-01-01T00:01:00Z')) == 60"));
        assert!(truth("uint(3) == 3u && double('1.5') == 1.5 && bool('true')"));
        assert!(truth("string(2.0) == '2' && type(1) == 'int'"));
        assert!(error("duration('1d')").contains("not a duration"));
        assert!(error("timestamp('2024-01-01T00:00:00Z').getHours('Europe/Paris')")
            .contains("time zone `Europe/Paris` is not supported"));
        assert!(error("http.Get('https://example.com')").contains("offline linter"));
        assert!(error("timestamp('yesterday')").contains("not an RFC 3339"));
        assert!(error("[1, 'a'].sort()").contains("not comparable"));
        assert!(truth("10u / 3u == 3u && 10u % 3u == 1u && 7 % 4 == 3"));
        assert!(truth("math.greatest(1, 2.5, 2) == 2.5 && math.least([3, 1, 2]) == 1"));
        assert!(truth("math.abs(-3) == 3 && math.ceil(1.2) == 2.0 && math.round(2.5) == 3.0"));
        assert!(truth("math.sign(-2) == -1 && math.isNaN(0.0 / 0.0) && !math.isFinite(1.0 / 0.0)"));
        assert!(error("math.greatest('a', 'b')").contains("no such function"));
        // Two-variable comprehensions: index and element, key and value.
        assert!(truth("['a', 'b'].all(i, v, i < 2 && v != '')"));
        assert!(truth("{'a': 1, 'b': 2}.exists(k, v, k == 'b' && v == 2)"));
        assert!(truth("{'a': 1, 'b': 1}.existsOne(k, v, k == 'a')"));
        assert!(truth("['a', 'b'].transformList(i, v, v + string(i)) == ['a0', 'b1']"));
        assert!(truth("[1, 2, 3].transformList(i, v, v > 1, i) == [1, 2]"));
        assert!(truth("{'a': 1, 'b': 2}.transformMap(k, v, v * 10) == {'a': 10, 'b': 20}"));
        assert!(truth("{'a': 1, 'b': 2}.transformMap(k, v, v > 1, v) == {'b': 2}"));
        assert!(error("7u % 0u").contains("modulus by zero"));
        assert!(error("0u - 1u").contains("overflow"));
    }
}
