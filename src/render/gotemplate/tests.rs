//! Execution as Go executes: each case is a template, its data and what Go writes (or the
//! error Go reports).

use super::{render, Funcs, Templates, Value};

fn run(template: &str, data: &serde_json::Value) -> Result<String, String> {
    render("t", template, &Value::from_json(data), &Funcs::builtins()).map_err(|e| e.message)
}

fn ok(template: &str, data: &serde_json::Value) -> String {
    run(template, data).unwrap_or_else(|e| panic!("{template}: {e}"))
}

#[test]
fn fields_variables_and_printing() {
    use serde_json::json;
    let data = json!({"A": "a", "N": 3, "F": 1.5, "L": [1, 2], "M": {"k": "v", "j": 1}, "Z": null});
    assert_eq!(ok("-{{.A}}-{{.N}}-{{.F}}-{{.L}}-{{.M}}-", &data), "-a-3-1.5-[1 2]-map[j:1 k:v]-");
    assert_eq!(ok("{{.Missing}}|{{.Z}}|{{print .Missing}}", &data), "<no value>|<no value>|<nil>");
    assert_eq!(ok("{{$x := .A}}{{$x}}{{$x = .N}}{{$x}}{{$.M.k}}", &data), "a3v");
    assert_eq!(ok("{{with .M}}{{.k}}{{end}}{{with .Missing}}x{{else}}y{{end}}", &data), "vy");
    // Go's default `missingkey`: fields of a missing key are missing too; of a nil, an error.
    assert_eq!(ok("{{.Missing.X}}", &data), "<no value>");
    let e = run("{{.Z.X}}", &data).unwrap_err();
    assert_eq!(
        e,
        "template: t:1:2: executing \"t\" at <.Z.X>: nil pointer evaluating interface {}.X"
    );
    let e = run("{{.A.X}}", &data).unwrap_err();
    assert!(e.ends_with("can't evaluate field X in type string"), "{e}");
}

#[test]
fn controls_and_trim_markers() {
    use serde_json::json;
    let data = json!({"L": ["a", "b", "c"], "M": {"y": 2, "x": 1}, "E": []});
    assert_eq!(ok("{{range .L}}[{{.}}]{{end}}", &data), "[a][b][c]");
    assert_eq!(ok("{{range $i, $e := .L}}{{$i}}={{$e}} {{end}}", &data), "0=a 1=b 2=c ");
    assert_eq!(ok("{{range $k, $v := .M}}{{$k}}{{$v}}{{end}}", &data), "x1y2");
    assert_eq!(ok("{{range .E}}x{{else}}empty{{end}}", &data), "empty");
    assert_eq!(ok("{{range .L}}{{if eq . \"b\"}}{{continue}}{{end}}{{.}}{{if eq . \"c\"}}{{break}}{{end}}{{end}}", &data), "ac");
    assert_eq!(ok("{{range 3}}{{.}}{{end}}", &data), "012");
    assert_eq!(ok("{{if .Nope}}a{{else if .L}}b{{else}}c{{end}}", &data), "b");
    assert_eq!(ok("a  {{- /* c */ -}}  b\n{{- 1 }} {{ 2 -}}\n c", &data), "ab1 2c");
}

#[test]
fn templates_define_block_and_recursion_limit() {
    use serde_json::json;
    let t = "{{define \"T\"}}<{{.}}>{{end}}{{template \"T\" .A}}{{block \"B\" .A}}[{{.}}]{{end}}";
    assert_eq!(ok(t, &json!({"A": 1})), "<1>[1]");
    let e = run("{{define \"R\"}}{{template \"R\" .}}{{end}}{{template \"R\" .}}", &json!({}))
        .unwrap_err();
    assert!(e.contains("exceeded maximum template depth (100)"), "{e}");
    let e = run("{{template \"none\"}}", &json!({})).unwrap_err();
    assert!(e.contains("template \"none\" not defined"), "{e}");
    // Templates of one set see each other's definitions; a later one replaces an earlier one.
    let funcs = Funcs::builtins();
    let mut set = Templates::default();
    set.parse("a", "{{define \"x\"}}1{{end}}", &funcs).unwrap();
    set.parse("b", "{{define \"x\"}}2{{end}}{{template \"x\"}}", &funcs).unwrap();
    assert_eq!(set.execute("b", &Value::Nil, &funcs).unwrap(), "2");
}

#[test]
fn a_called_template_has_variables_of_its_own() {
    use serde_json::json;
    let data = json!({"A": "a", "B": {"C": "c"}});
    // `$` is the called template's data; what it declares (with the caller's names) and
    // assigns leaves the caller's variables as they were.
    let t = concat!(
        "{{define \"T\"}}{{$.C}}{{$x := \"inner\"}}{{$x}}{{$x = \"set\"}}{{$x}}",
        "{{range $i, $e := list 1 2}}{{$x = $e}}{{end}}{{$x}}{{end}}",
        "{{$x := .A}}{{template \"T\" .B}}|{{$x}}|{{$.A}}{{range $i, $y := list 7}}",
        "{{template \"T\" $.B}}{{$x}}{{$y}}{{end}}"
    );
    let funcs = {
        let mut f = Funcs::builtins();
        f.insert("list", |_, args| Ok(Value::list(args.to_vec())));
        f
    };
    let out = render("t", t, &Value::from_json(&data), &funcs).map_err(|e| e.message);
    assert_eq!(out.as_deref(), Ok("cinnerset2|a|acinnerset2a7"));
}

#[test]
fn builtins_behave_as_go_builtins() {
    use serde_json::json;
    let data = json!({"L": [1, 2, 3], "S": "hello", "M": {"a": 1}, "I": 2, "F": 2.0});
    let cases = [
        ("{{len .L}} {{len .S}} {{len .M}}", "3 5 1"),
        (
            "{{index .L 1}} {{index .M \"a\"}} {{index .M \"b\"}} {{index .S 1}}",
            "2 1 <no value> 101",
        ),
        ("{{slice .L 1}} {{slice .S 1 3}}", "[2 3] el"),
        ("{{and 1 0 2}} {{or 0 \"\" \"x\"}} {{not 0}}", "0 x true"),
        (
            "{{eq .I 2}} {{eq .S \"a\" \"hello\"}} {{ne 1 2}} {{lt 1 2}} {{ge \"b\" \"a\"}}",
            "true true true true true",
        ),
        ("{{printf \"%s=%d\" .S .I}} {{print 1 2 \"x\"}} {{println 1}}", "hello=2 1 2x 1\n"),
        (
            "{{html \"<a href='x'>\"}} {{js \"it's <b>\"}} {{urlquery \"a b&c\"}}",
            "&lt;a href=&#39;x&#39;&gt; it\\'s \\u003Cb\\u003E a+b%26c",
        ),
        ("{{.S | printf \"%q\"}} {{\"x\" | printf \"%s-%s\" \"y\"}}", "\"hello\" y-x"),
        ("{{(index .L 0)}} {{(.M).a}}", "1 1"),
    ];
    for (t, want) in cases {
        assert_eq!(ok(t, &data), want, "{t}");
    }
    let errors = [
        ("{{eq .I .F}}", "error calling eq: incompatible types for comparison"),
        ("{{lt true false}}", "error calling lt: invalid type for comparison"),
        ("{{index .L 5}}", "index out of range: 5"),
        ("{{len 3}}", "error calling len: len of type int"),
        ("{{nil}}", "nil is not a command"),
        ("{{.S 1}}", "S is not a method but has arguments"),
        ("{{1 2}}", "can't give argument to non-function 1"),
        ("{{and}}", "wrong number of args for and: want at least 1 got 0"),
    ];
    for (t, want) in errors {
        let e = run(t, &data).unwrap_err();
        assert!(e.contains(want), "{t}: {e}");
    }
}

#[test]
fn parse_errors_name_the_template_and_line() {
    let e = run("a\n{{if}}", &serde_json::json!({})).unwrap_err();
    assert_eq!(e, "template: t:2: missing value for if");
    let e = run("{{nope}}", &serde_json::json!({})).unwrap_err();
    assert_eq!(e, "template: t:1: function \"nope\" not defined");
}

#[test]
fn the_output_says_which_line_wrote_it() {
    let funcs = Funcs::builtins();
    let mut set = Templates::default();
    let text = "kind: Pod\n{{- /* c */}}\nname: {{ .name }}\n{{ template \"h\" }}";
    set.parse("chart/templates/pod.yaml", text, &funcs).unwrap();
    set.parse("chart/templates/_helpers.tpl", "\n\n{{define \"h\"}}x: 1{{end}}", &funcs).unwrap();
    let data = Value::from_json(&serde_json::json!({"name": "web"}));
    let w = set.execute_traced("chart/templates/pod.yaml", &data, &funcs).unwrap();
    assert_eq!(w.text, "kind: Pod\nname: web\nx: 1");
    let at = |s: &str| w.text.find(s).unwrap();
    assert_eq!(w.source_of(at("kind")), Some(("chart/templates/pod.yaml", 1)));
    assert_eq!(w.source_of(at("web")), Some(("chart/templates/pod.yaml", 3)));
    assert_eq!(w.source_of(at("x: 1")), Some(("chart/templates/_helpers.tpl", 3)));
}

/// A branch a `false` switch left out that writes objects of the kinds asked for is run to see
/// what it would write (with a budget of its own, on copies of the data, undone: the output,
/// the steps, the variables and the data are as before).
#[test]
fn a_switched_off_branch_says_what_objects_it_would_have_written() {
    let funcs = Funcs::builtins();
    let mut set = Templates::default();
    set.record_reads = true;
    set.left_out_kinds = &["NetworkPolicy", "Loop", "X"];
    let text = "{{- $n := \"a\" }}{{- if .on }}\nkind: NetworkPolicy\nname: {{ .name }}{{ $n = \"b\" }}\n{{- end }}\nn: {{ $n }}\n\
                {{- if .on }}\nkind: Loop\n{{- range 1000000 }}{{ . }}{{ end }}\n{{- end }}";
    set.parse("t.yaml", text, &funcs).unwrap();
    let data = Value::from_json(&serde_json::json!({"on": false, "name": "deny"}));
    let w = set.execute_traced("t.yaml", &data, &funcs).unwrap();
    assert_eq!(w.text, "\nn: a", "nothing of the branches, and the variable as it was");
    assert_eq!(w.skips.len(), 2);
    assert_eq!(w.skips[0].would.as_deref(), Some("\nkind: NetworkPolicy\nname: deny"));
    assert_eq!(w.skips[1].would, None, "past its budget of steps: nothing");

    let mut set = Templates::default();
    set.record_reads = true;
    set.left_out_kinds = &["NetworkPolicy", "Loop", "X"];
    // What the branch changes stays in its copies of the data (`set` is sprig's: a function
    // of this test stands for it).
    let mut funcs = Funcs::builtins();
    funcs.insert("poke", |_, a| {
        if let Some(Value::Map(m)) = a.first() {
            m.borrow_mut().insert("name".into(), Value::string("poked"));
        }
        Ok(Value::string(""))
    });
    let text = "{{- if .on }}\nkind: X\n{{ poke . }}{{ poke $ }}{{- end }}name: {{ .name }}";
    set.parse("t2.yaml", text, &funcs).unwrap();
    let w = set.execute_traced("t2.yaml", &data, &funcs).unwrap();
    assert_eq!(w.skips[0].would.as_deref(), Some("\nkind: X\n"));
    assert_eq!(w.text, "name: deny", "the data as it was");
}
