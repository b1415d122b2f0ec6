//! Helm's template functions (Helm's `pkg/engine/funcs.go`): `include`, `tpl`, `required`,
//! `toYaml`/`mustToYaml`/`toYamlPretty`, `fromYaml`/`fromYamlArray`, `toJson`/`fromJson`/
//! `fromJsonArray` (Helm's versions: errors become values), and `lookup`, which finds nothing
//! (as `helm template` does without a cluster). Sprig's `env` and `expandenv` are not there, as
//! in Helm.

use super::chart::floats;
use crate::render::gotemplate::exec::Funcs;
use crate::render::gotemplate::{sprig, Value};

/// [`funcs`], made once per thread.
#[must_use]
pub fn shared() -> std::rc::Rc<Funcs> {
    thread_local! {
        static FUNCS: std::rc::Rc<Funcs> = std::rc::Rc::new(funcs());
    }
    FUNCS.with(std::rc::Rc::clone)
}

/// Go's builtins, sprig and Helm's functions: what a chart's templates may call.
#[must_use]
pub fn funcs() -> Funcs {
    let mut f = Funcs::builtins();
    sprig::register(&mut f);
    register(&mut f);
    super::durations::register(&mut f);
    f
}

fn arity(args: &[Value], want: usize, name: &str) -> Result<(), String> {
    if args.len() == want {
        Ok(())
    } else {
        Err(format!("wrong number of args for {name}: want {want} got {}", args.len()))
    }
}

fn text<'a>(v: &'a Value, name: &str) -> Result<&'a str, String> {
    v.as_str().ok_or_else(|| {
        let _ = name;
        format!("wrong type for value; expected string; got {}", v.type_name())
    })
}

fn yaml_of(v: &Value, pretty: bool) -> Result<String, String> {
    super::toyaml::to_yaml(v, pretty).map(|y| y.strip_suffix('\n').unwrap_or(&y).to_string())
}

/// YAML data as Helm reads it (through JSON: every number a float64; of a key written twice,
/// the last value), or why not.
fn from_yaml(text: &str) -> Result<Value, String> {
    let parsed = crate::load::yaml::parse_stream(text, &crate::load::Limits::default());
    if let Some(p) = parsed.first_problem_but_duplicate_keys() {
        return Err(format!(
            "error converting YAML to JSON: yaml: line {}: {}",
            p.pos.line, p.message
        ));
    }
    Ok(parsed.documents.first().map_or(Value::Nil, |d| floats(&d.root.to_json())))
}

/// Go's error for JSON data of the wrong shape.
fn cannot_unmarshal(v: &Value, into: &str) -> String {
    let what = match v {
        Value::List(_) => "array",
        Value::Map(_) => "object",
        Value::Str(_) => "string",
        Value::Bool(_) => "bool",
        _ => "number",
    };
    format!("json: cannot unmarshal {what} into Go value of type {into}")
}

const MAP: &str = "map[string]interface {}";
const LIST: &str = "[]interface {}";

fn error_map(message: &str) -> Value {
    Value::map(std::iter::once(("Error".to_string(), Value::string(message))).collect())
}

const PEM_KEY: &str =
    "-----BEGIN RSA PRIVATE KEY-----\nnot-a-real-key\n-----END RSA PRIVATE KEY-----\n";

/// What `genCA` and its kin give (`.Cert`, `.Key`): fixed PEM-shaped text, as every generated
/// certificate is random.
fn certificate() -> Value {
    Value::map(
        [
            (
                "Cert",
                "-----BEGIN CERTIFICATE-----\nnot-a-real-certificate\n-----END CERTIFICATE-----\n",
            ),
            ("Key", PEM_KEY),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::string(v)))
        .collect(),
    )
}

/// Sprig's random functions give a fixed value of the right shape: what a chart does with a
/// generated password or UUID cannot be checked anyway, and a chart that defines a helper
/// with one must still render.
pub fn register_random(f: &mut Funcs) {
    fn sized(a: &[Value], c: char) -> Result<Value, String> {
        let n = match a.first() {
            Some(Value::Int(n)) => usize::try_from(*n).unwrap_or(0).min(1 << 16),
            Some(other) => {
                return Err(format!(
                    "wrong type for value; expected int; got {}",
                    other.type_name()
                ))
            }
            None => return Err("wrong number of args: want 1 got 0".into()),
        };
        Ok(Value::string(&c.to_string().repeat(n)))
    }
    f.insert("randAlphaNum", |_, a| sized(a, 'x'));
    f.insert("randAlpha", |_, a| sized(a, 'x'));
    f.insert("randAscii", |_, a| sized(a, 'x'));
    f.insert("randNumeric", |_, a| sized(a, '0'));
    f.insert("uuidv4", |_, _| Ok(Value::string("00000000-0000-4000-8000-000000000000")));
    f.insert("shuffle", |_, a| Ok(a.first().cloned().unwrap_or(Value::Nil)));
    f.insert("trimall", |_, a| {
        let cut: Vec<char> = a.first().and_then(Value::as_str).unwrap_or("").chars().collect();
        let text = a.get(1).and_then(Value::as_str).unwrap_or("");
        Ok(Value::string(text.trim_matches(|c| cut.contains(&c))))
    });
    f.insert("randInt", |_, a| Ok(a.first().cloned().unwrap_or(Value::Int(0))));
    f.insert("bcrypt", |_, _| {
        Ok(Value::string("$2a$10$xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"))
    });
    f.insert("genPrivateKey", |_, _| Ok(Value::string(PEM_KEY)));
    // A fixed IV (sprig's is random): `decryptAES` still gives the text back.
    f.insert("encryptAES", |_, a| {
        arity(a, 2, "encryptAES")?;
        let (password, plaintext) = (text(&a[0], "encryptAES")?, text(&a[1], "encryptAES")?);
        Ok(Value::string(&sprig::crypto::encrypt_aes(password, plaintext, [0; 16])))
    });
    for name in [
        "genCA",
        "genCAWithKey",
        "genSelfSignedCert",
        "genSelfSignedCertWithKey",
        "genSignedCert",
        "genSignedCertWithKey",
    ] {
        f.insert(name, |_, _| Ok(certificate()));
    }
    f.insert("htpasswd", |_, a| {
        let user = a.first().and_then(Value::as_str).unwrap_or("");
        Ok(Value::string(&format!(
            "{user}:$2a$10$xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        )))
    });
}

fn register(f: &mut Funcs) {
    register_random(f);
    f.insert("include", |exec, a| {
        arity(a, 2, "include")?;
        let name = text(&a[0], "include")?.to_string();
        exec.include(&name, &a[1])
    });
    f.insert("tpl", |exec, a| {
        arity(a, 2, "tpl")?;
        let template = text(&a[0], "tpl")?.to_string();
        exec.tpl(&template, &a[1]).map(|s| Value::string(&s))
    });
    f.insert("required", |_, a| {
        arity(a, 2, "required")?;
        match &a[1] {
            Value::Nil => Err(text(&a[0], "required")?.to_string()),
            Value::Str(s) if s.is_empty() => Err(text(&a[0], "required")?.to_string()),
            other => Ok(other.clone()),
        }
    });
    f.insert("lookup", |_, a| {
        arity(a, 4, "lookup")?;
        Ok(Value::map(std::collections::BTreeMap::new()))
    });
    f.insert("toYaml", |_, a| {
        arity(a, 1, "toYaml")?;
        Ok(Value::string(&yaml_of(&a[0], false).unwrap_or_default()))
    });
    f.insert("mustToYaml", |_, a| {
        arity(a, 1, "mustToYaml")?;
        yaml_of(&a[0], false).map(|y| Value::string(&y))
    });
    f.insert("toYamlPretty", |_, a| {
        arity(a, 1, "toYamlPretty")?;
        Ok(Value::string(&yaml_of(&a[0], true).unwrap_or_default()))
    });
    f.insert("fromYaml", |_, a| {
        arity(a, 1, "fromYaml")?;
        Ok(match from_yaml(text(&a[0], "fromYaml")?) {
            Ok(Value::Nil) => Value::map(std::collections::BTreeMap::new()),
            Ok(m @ Value::Map(_)) => m,
            Ok(other) => error_map(&format!(
                "error unmarshaling JSON: while decoding JSON: {}",
                cannot_unmarshal(&other, MAP)
            )),
            Err(e) => error_map(&e),
        })
    });
    f.insert("fromYamlArray", |_, a| {
        arity(a, 1, "fromYamlArray")?;
        Ok(match from_yaml(text(&a[0], "fromYamlArray")?) {
            Ok(Value::Nil) => Value::list(Vec::new()),
            Ok(l @ Value::List(_)) => l,
            Ok(other) => Value::list(vec![Value::string(&format!(
                "error unmarshaling JSON: while decoding JSON: {}",
                cannot_unmarshal(&other, LIST)
            ))]),
            Err(e) => Value::list(vec![Value::string(&e)]),
        })
    });
    f.insert("toToml", |_, a| {
        arity(a, 1, "toToml")?;
        Ok(Value::string(&super::toml::to_toml(&a[0]).unwrap_or_else(|e| e)))
    });
    f.insert("mustToToml", |_, a| {
        arity(a, 1, "mustToToml")?;
        super::toml::to_toml(&a[0]).map(|t| Value::string(&t))
    });
    f.insert("fromToml", |_, a| {
        arity(a, 1, "fromToml")?;
        Ok(super::toml::from_toml(text(&a[0], "fromToml")?))
    });
    f.insert("toJson", |_, a| {
        arity(a, 1, "toJson")?;
        let mut out = String::new();
        Ok(Value::string(
            &sprig::write_json(&mut out, &a[0], true, (false, 0)).map(|()| out).unwrap_or_default(),
        ))
    });
    f.insert("fromJson", |_, a| {
        arity(a, 1, "fromJson")?;
        Ok(match serde_json::from_str::<serde_json::Value>(text(&a[0], "fromJson")?) {
            Ok(v @ serde_json::Value::Object(_)) => floats(&v),
            Ok(other) => error_map(&cannot_unmarshal(&floats(&other), MAP)),
            Err(e) => error_map(&e.to_string()),
        })
    });
    f.insert("fromJsonArray", |_, a| {
        arity(a, 1, "fromJsonArray")?;
        Ok(match serde_json::from_str::<serde_json::Value>(text(&a[0], "fromJsonArray")?) {
            Ok(v @ serde_json::Value::Array(_)) => floats(&v),
            Ok(other) => Value::list(vec![Value::string(&cannot_unmarshal(&floats(&other), LIST))]),
            Err(e) => Value::list(vec![Value::string(&e.to_string())]),
        })
    });
}

#[cfg(test)]
mod tests {
    use super::funcs;
    use crate::render::gotemplate::{render, Templates, Value};

    fn run(template: &str, data: &serde_json::Value) -> Result<String, String> {
        render("t", template, &Value::from_json(data), &funcs()).map_err(|e| e.message)
    }

    #[test]
    fn functions_behave_as_in_helm() {
        use serde_json::json;
        let data = json!({"Values": {"port": 8080.0, "name": "web"}});
        let cases = [
            // `tpl` gives back its text without Go's `<no value>`.
            ("{{ tpl \"{{ .Values.missing }}\" . | default \"x\" }}", "x"),
            ("{{ int \"5.00\" }} {{ int \"10.0\" }} {{ int \"5.10\" }}", "5 10 0"),
            ("{{ title \"it's a dog\" }}", "It'S A Dog"),
            ("{{ regexQuoteMeta \"my-release.1\" }}", "my-release\\.1"),
            ("{{ toJson 0.0000001 }} {{ toJson 1e21 }}", "1e-7 1e+21"),
            ("{{ toYaml (dict \"a\" \"x\\ty\") }}", "a: \"x\\ty\""),
            ("{{ printf \"%s\" (dict \"a\" \"b\") }}", "map[a:b]"),
            ("{{ (genCA \"ca\" 365).Cert | contains \"BEGIN CERTIFICATE\" }}", "true"),
            ("{{ randAlphaNum 5 | len }}", "5"),
            // Sprig's cryptography: a derived password as sprig's own tests give it, and what
            // `encryptAES` writes `decryptAES` reads back.
            ("{{ derivePassword 1 \"medium\" \"password\" \"user\" \"example.com\" }}", "ZedJuz8$"),
            ("{{ \"text\" | encryptAES \"key\" | decryptAES \"key\" }}", "text"),
        ];
        for (t, want) in cases {
            assert_eq!(run(t, &data).as_deref(), Ok(want), "{t}");
        }
        // `include` gives back what the helper wrote, includes within includes too (their
        // buffers are reused), and fails on a helper that is not defined.
        let nested = concat!(
            "{{ define \"in\" }}<{{ . }}>{{ end }}",
            "{{ define \"out\" }}[{{ include \"in\" . }}|{{ include \"in\" \"b\" }}]{{ end }}",
            "{{ include \"out\" \"a\" }}{{ include \"out\" \"c\" | upper }}"
        );
        assert_eq!(run(nested, &data).as_deref(), Ok("[<a>|<b>][<C>|<B>]"));
        let e = run("{{ include \"missing\" . }}", &data).unwrap_err();
        assert!(e.contains("template \"missing\" not defined"), "{e}");
        // sprig's encoders take text, as Go's typed parameter does.
        let e = run("{{ .Values.port | b64enc }}", &data).unwrap_err();
        assert!(e.contains("wrong type for value; expected string; got float64"), "{e}");
        let e = run("{{ derivePassword -1 \"pin\" \"p\" \"u\" \"s\" }}", &data).unwrap_err();
        assert!(e.contains("-1 overflows uint32"), "{e}");
        // Derived passwords are kept: the same one a thousand times costs one derivation.
        let same =
            "{{ range until 1000 }}{{ derivePassword 1 \"pin\" \"p\" \"u\" \"s\" }}{{ end }}";
        assert_eq!(run(same, &data).map(|s| s.len()), Ok(4000));
        // Each one not kept counts as a hundredth of the step budget: after nine million steps
        // of loops, the eleventh fails.
        let spent = "{{ range until 1000000 }}{{ end }}".repeat(9);
        let many = "{{ range $i := until 20 }}{{ derivePassword 1 \"pin\" \"p\" (printf \"u%d\" $i) \"s\" }}{{ end }}";
        let e = run(&format!("{spent}{many}"), &data).unwrap_err();
        assert!(e.contains("exceeded 10000000 steps"), "{e}");
        // The same again, its passwords now kept by the thread: it fails the same way (the
        // count is per execution, not per thread).
        let e = run(&format!("{spent}{many}"), &data).unwrap_err();
        assert!(e.contains("exceeded 10000000 steps"), "{e}");
        let e = run("{{ decryptAES \"key\" \"c2hvcnQ=\" }}", &data).unwrap_err();
        assert!(e.contains("slice bounds out of range"), "{e}");
    }

    #[test]
    fn an_empty_definition_does_not_replace_one_with_a_body() {
        let f = funcs();
        let mut set = Templates::default();
        set.parse("sub", "{{ define \"x\" }}body{{ end }}", &f).unwrap();
        set.parse("top", "{{- define \"x\" -}}{{- end -}}{{ template \"x\" }}", &f).unwrap();
        assert_eq!(set.execute("top", &Value::Nil, &f).unwrap(), "body");
    }
}

#[cfg(test)]
mod hostile {
    use super::funcs;
    use crate::render::gotemplate::{render, Value};

    fn error(template: &str) -> String {
        render("t", template, &Value::Nil, &funcs()).unwrap_err().message
    }

    /// Templates that would loop, recurse or write without end stop with an error naming the
    /// template and line.
    #[test]
    fn runaway_templates_are_bounded() {
        let e = error("{{ range until 1000000 }}{{ range until 1000000 }}x{{ end }}{{ end }}");
        assert!(e.contains("evaluation exceeded 10000000 steps"), "{e}");
        let e = error("{{ range until 100000 }}{{ repeat 1000 \"x\" }}{{ end }}");
        assert!(e.contains("wrote more than"), "{e}");
        let e = error("{{ define \"r\" }}{{ include \"r\" . }}{{ end }}{{ include \"r\" . }}");
        assert!(e.contains("exceeded maximum template depth (100)"), "{e}");
        let e = error("{{ define \"t\" }}{{ tpl \"{{ include \\\"t\\\" . }}\" . }}{{ end }}{{ include \"t\" . }}");
        assert!(e.contains("exceeded maximum template depth"), "{e}");
        assert!(error("{{ until 100000000 }}").contains("more than 1048576 items"));
        assert!(error("{{ repeat 100000000 \"xx\" }}").contains("repeat would make more than"));
    }
}
