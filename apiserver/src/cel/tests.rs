//! Language conformance: expressions and the values or errors they give, with `self` an
//! untyped JSON value where a row needs one.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use super::*;

fn object_type() -> Type {
    let field = |name: &str, type_: Type| (escape(name).unwrap_or_default(), Field { json_name: name.to_string(), type_, max_size: None });
    let fields: BTreeMap<String, Field> = [
        field("name", Type::String),
        field("replicas", Type::Int),
        field("x-prop", Type::Int),
        field("namespace", Type::String),
        field("tags", Type::list(Type::String)),
        field("labels", Type::map(Type::String, Type::String)),
        field("timeout", Type::Duration),
        field("setlist", Type::List(Arc::new(ListType { element: Type::String, kind: ListKind::Set, max_items: None, element_max_size: None }))),
    ]
    .into_iter()
    .collect();
    Type::Object(Arc::new(ObjectType { name: "object".into(), fields }))
}

fn self_value() -> serde_json::Value {
    json!({"name": "web", "replicas": 3, "x-prop": 1, "namespace": "ns", "tags": ["a", "b"], "labels": {"app": "web"}, "timeout": "1m30s", "setlist": ["a", "b"]})
}

/// The outcome of `source` with `self` bound to the test object, as text.
fn run(source: &str) -> String {
    let variables = vec![("self".to_string(), object_type())];
    let program = match compile(source, &variables) {
        Ok(program) => program,
        Err(issues) => return format!("compile: {issues}"),
    };
    let mut cost = Cost::new(cost::PER_CALL_LIMIT);
    match program.evaluate(vec![("self".to_string(), from_json(&self_value(), &object_type()))], &mut cost) {
        Ok(value) => shown(&value),
        Err(error) => format!("error: {error}"),
    }
}

fn shown(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(flag) => flag.to_string(),
        Value::Int(number) => number.to_string(),
        Value::Uint(number) => format!("{number}u"),
        Value::Double(number) => format!("{number:?}"),
        Value::String(text) => format!("{text:?}"),
        Value::List(list) => format!("[{}]", list.items.iter().map(shown).collect::<Vec<_>>().join(", ")),
        Value::Optional(inner) => inner.as_deref().map_or("optional.none()".into(), |inner| format!("optional.of({})", shown(inner))),
        other => format!("<{}>", other.type_name()),
    }
}

#[test]
fn expressions_give_cels_values() {
    let rows = [
        ("1 + 2 * 3", "7"),
        ("7 / 2", "3"),
        ("-7 % 3", "-1"),
        ("1u + 2u", "3u"),
        ("1.5 * 2.0", "3.0"),
        ("-9223372036854775808", "-9223372036854775808"),
        ("0x10", "16"),
        ("'a' + \"b\"", "\"ab\""),
        (r"'\x41\u00e9\101'", "\"AéA\""),
        (r"r'\d+'", "\"\\\\d+\""),
        ("'''multi\nline'''", "\"multi\\nline\""),
        ("size(b'\\xff\\x00')", "2"),
        ("[1, 2, 3][1]", "2"),
        ("{'a': 1}['a']", "1"),
        ("2 in [1, 2]", "true"),
        ("'k' in {'k': 1}", "true"),
        ("1 == 1.0", "compile: ERROR: <input>:1:3: found no matching overload for '_==_' applied to '(int, double)'\n | 1 == 1.0\n | ..^"),
        ("dyn(1) == 1.0", "true"),
        ("1 < 2u", "true"),
        ("true ? 'y' : 'n'", "\"y\""),
        ("!false && true", "true"),
        ("1/0 == 1 || true", "true"),
        ("true && 1/0 == 1", "error: division by zero"),
        ("false && 1/0 == 1", "false"),
        ("1/0 == 1 && false", "false"),
        ("9223372036854775807 + 1", "error: integer overflow"),
        ("0u - 1u", "error: unsigned integer overflow"),
        ("[1][5]", "error: index '5' out of range in list size '1'"),
        ("{'a': 1}['b']", "error: no such key: b"),
        ("self.name", "\"web\""),
        ("self.x__dash__prop", "1"),
        ("self.__namespace__", "\"ns\""),
        ("has(self.name)", "true"),
        ("self.tags.all(t, t.size() == 1)", "true"),
        ("self.tags.exists(t, t == 'b')", "true"),
        ("self.tags.exists_one(t, t != '')", "false"),
        ("self.tags.map(t, t + t)", "[\"aa\", \"bb\"]"),
        ("[1, 2, 3].map(x, x > 1, x * 10)", "[20, 30]"),
        ("[1, 2, 3].filter(x, x % 2 == 1)", "[1, 3]"),
        ("self.labels.all(k, k == 'app')", "true"),
        ("self.nosuch", "compile: ERROR: <input>:1:5: undefined field 'nosuch'\n | self.nosuch\n | ....^"),
        ("nosuch", "compile: ERROR: <input>:1:1: undeclared reference to 'nosuch' (in container '')\n | nosuch\n | ^"),
        ("self.a >", "compile: ERROR: <input>:1:9: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}\n | self.a >\n | ........^"),
        ("size('héllo') == 5 && 'héllo'.size() == 5", "true"),
        ("'abc'.contains('b') && 'abc'.startsWith('a') && 'abc'.endsWith('c')", "true"),
        ("'abc123'.matches('^[a-z]+[0-9]+$')", "true"),
        ("'x'.matches('(')", "compile: ERROR: <input>:1:13: error parsing regexp: regex parse error:\n    (\n    ^\nerror: unclosed group\n | 'x'.matches('(')\n | ............^"),
        ("int('42') + int(2.9)", "44"),
        ("uint(-1)", "error: unsigned integer overflow"),
        ("double(1) / 4.0", "0.25"),
        ("string(1.5) + string(true) + string(2u)", "\"1.5true2\""),
        ("type(1) == int && type('a') == string", "true"),
        ("duration('1h') > duration('30m')", "true"),
        ("self.timeout == duration('90s')", "true"),
        ("timestamp('2024-01-02T03:04:05Z').getFullYear()", "2024"),
        ("timestamp('2024-01-02T00:00:00Z') - timestamp('2024-01-01T00:00:00Z') == duration('24h')", "true"),
        ("'Hello'.lowerAscii() + 'x'.upperAscii()", "\"helloX\""),
        ("'  a  '.trim()", "\"a\""),
        ("'a,b,c'.split(',')", "[\"a\", \"b\", \"c\"]"),
        ("['a', 'b'].join('-')", "\"a-b\""),
        ("'aaa'.replace('a', 'b', 2)", "\"bba\""),
        ("'hello'.indexOf('l') + 'hello'.lastIndexOf('l')", "5"),
        ("'hello'.substring(1, 3) + 'hello'.charAt(4)", "\"elo\""),
        ("[3, 1, 2].isSorted() || [1, 2].isSorted()", "true"),
        ("[1, 2, 3].sum() + [4, 9].max() + [4, 9].min()", "19"),
        ("[1, 2, 1].lastIndexOf(1)", "2"),
        ("'abc 123 def 456'.findAll('[0-9]+')", "[\"123\", \"456\"]"),
        ("'abc 123'.find('[0-9]+')", "\"123\""),
        ("url('https://example.com:80/p').getHostname()", "\"example.com\""),
        ("isURL('not a url')", "false"),
        ("quantity('1Gi').isGreaterThan(quantity('1G'))", "true"),
        ("quantity('500m').add(quantity('1500m')).asInteger()", "2"),
        ("isQuantity('1.5x')", "false"),
        ("isIP('10.0.0.1') && !isIP('10.0.0.300')", "true"),
        ("cidr('10.0.0.0/8').containsIP(ip('10.1.1.1'))", "true"),
        ("ip('::1').family()", "6"),
        ("self.?name", "optional.of(\"web\")"),
        ("self.?nosuch_in_map.orValue('x')", "compile: ERROR: <input>:1:5: undefined field 'nosuch_in_map'\n | self.?nosuch_in_map.orValue('x')\n | ....^"),
        ("self.labels.?missing.orValue('none')", "\"none\""),
        ("optional.of(1).hasValue() && !optional.none().hasValue()", "true"),
        ("[1, ?optional.none(), ?optional.of(2)]", "[1, 2]"),
        ("self.labels[?'app'].value()", "\"web\""),
        ("[1, 2] == [1, 2] && {'a': 1} == {'a': 1}", "true"),
        ("'a'.size(1)", "compile: ERROR: <input>:1:9: found no matching overload for 'size' applied to 'string.(int)'\n | 'a'.size(1)\n | ........^"),
        ("1 + 'a'", "compile: ERROR: <input>:1:3: found no matching overload for '_+_' applied to '(int, string)'\n | 1 + 'a'\n | ..^"),
        ("self.all(x, x)", "compile: ERROR: <input>:1:1: expression of type 'object' cannot be the range of a comprehension (must be list, map, or dynamic)\n | self.all(x, x)\n | ^"),
        ("has(1)", "compile: ERROR: <input>:1:5: invalid argument to has() macro\n | has(1)\n | ....^"),
        ("let", "compile: ERROR: <input>:1:1: Syntax error: reserved identifier: let\n | let\n | ^"),
        ("'a' # 'b'", "compile: ERROR: <input>:1:5: Syntax error: token recognition error at: '#'\n | 'a' # 'b'\n | ....^"),
        ("sets.contains([1, 2], [2])", "true"),
        ("'%s has %d items, %.2f%% full, %x, %o, %b'.format(['list', 3, 12.345, 255, 8, 5])", "\"list has 3 items, 12.35% full, ff, 10, 101\""),
        ("'%s and %s'.format([['a', 'b'], duration('1m')])", "\"[a, b] and 60s\""),
        ("'%d'.format([1.5])", "error: error during formatting: decimal clause can only be used on integers, was given double"),
        ("'%s %s'.format(['one'])", "error: error during formatting: index 1 out of range"),
        ("[1, 'two']", "compile: ERROR: <input>:1:5: expected type 'int' but found 'string'\n | [1, 'two']\n | ....^"),
        ("{'a': 1, 'b': true}", "compile: ERROR: <input>:1:15: expected type 'int' but found 'bool'\n | {'a': 1, 'b': true}\n | ..............^"),
        ("[1, dyn('two')].size()", "2"),
        ("duration('1d') > duration('1h')", "compile: ERROR: <input>:1:10: invalid duration argument\n | duration('1d') > duration('1h')\n | .........^"),
        ("timestamp('2024-13-01T00:00:00Z')", "compile: ERROR: <input>:1:11: invalid timestamp\n | timestamp('2024-13-01T00:00:00Z')\n | ..........^"),
        ("['a'].sum()", "compile: ERROR: <input>:1:10: found no matching overload for 'sum' applied to 'list(string).()'\n | ['a'].sum()\n | .........^"),
        ("type(ip('10.0.0.1')) == net.IP && type(duration('1s')) == google.protobuf.Duration", "true"),
        ("url('https://example.com/with space/').getEscapedPath()", "\"/with%20space/\""),
        ("isURL('https://a:b:c/')", "false"),
        ("optional.ofNonZeroValue(timestamp('0001-01-01T00:00:00Z')).hasValue()", "false"),
        ("(1 + 2", "compile: ERROR: <input>:1:7: Syntax error: missing ')' at '<EOF>'\n | (1 + 2\n | ......^"),
        ("1 2", "compile: ERROR: <input>:1:3: Syntax error: mismatched input '2' expecting <EOF>\n | 1 2\n | ..^"),
        ("self.setlist == ['b', 'a'] && self.setlist + ['c', 'a'] == ['a', 'b', 'c']", "true"),
        ("self.tags == ['b', 'a']", "false"),
        ("strings.quote('a\"b')", "\"\\\"a\\\\\\\"b\\\"\""),
    ];
    let mut failures = Vec::new();
    for (source, expected) in rows {
        let found = run(source);
        if found != expected {
            failures.push(format!("{source}\n  expected: {expected}\n  found:    {found}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `run` on the deep stack every caller of the language gives it ([`with_stack`]).
fn run_deep(source: &str) -> String {
    with_stack(|| run(source)).unwrap_or_else(|| "no thread".into())
}

#[test]
fn hostile_expressions_are_bounded() {
    let run = run_deep;
    let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(run(&deep).contains("max recursion depth exceeded"), "{}", run(&deep));
    let nots = format!("{}true", "!".repeat(10_000));
    assert!(run(&nots).contains("max recursion depth exceeded"));
    let chain = format!("1{}", " + 1".repeat(10_000));
    assert!(run(&chain).contains("max recursion depth exceeded"));
    let selects = format!("self{}", ".a".repeat(10_000));
    assert!(run(&selects).contains("max recursion depth exceeded"));
    let huge = format!("'{}'", "a".repeat(200_000));
    assert!(run(&huge).contains("expression code point size exceeds limit"));
    assert_eq!(run("99999999999999999999"), "compile: ERROR: <input>:1:1: invalid int literal\n | 99999999999999999999\n | ^");
    // Quadratic and exponential work stops at the per-call limit.
    let expensive = "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,9,10].all(f, true))))))";
    assert_eq!(run(expensive), "error: operation cancelled: actual cost limit exceeded");
    // A string that grows by replacement is charged for what it grows by.
    let growing = "[1,2,3,4,5,6,7,8,9,10].map(a, 'x'.replace('x', 'xxxxxxxxxx')).map(b, b.replace('x', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx')).all(c, c.replace('x', c).replace('x', c).size() > 0)";
    assert_eq!(run(growing), "error: operation cancelled: actual cost limit exceeded");
    // The regex crate runs in linear time: a pattern that backtracks elsewhere is quick here.
    assert_eq!(run("'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!'.matches('^(a+)+$')"), "false");
}

/// Expressions nested just within the parser's limit compile and evaluate through
/// [`with_stack`] from a thread with the 2 MiB stack tokio's workers have, in a debug build.
#[test]
fn deepest_accepted_expressions_fit_a_worker_stack() {
    let worker = std::thread::Builder::new().stack_size(2 << 20).spawn(|| {
        let depth = parser::MAX_DEPTH - 5;
        let cases = [
            format!("{}1{} == 1", "(".repeat(depth), ")".repeat(depth)),
            format!("{}true", "!".repeat(depth - 1)),
            format!("size({}1{}) == 1", "[".repeat(depth - 2), "]".repeat(depth - 2)),
            format!("{}1 == {}", "-".repeat(depth - 1), if (depth - 1).is_multiple_of(2) { "1" } else { "-1" }),
            format!("1{} > 0", " + 1".repeat(depth - 2)),
            (0..depth / 3).fold("true".to_string(), |inner, level| format!("[{level}].all(x{level}, {inner})")),
        ];
        cases.iter().map(|source| with_stack(|| run(source)).unwrap_or_default()).collect::<Vec<_>>()
    });
    let outcomes = worker.unwrap_or_else(|error| panic!("spawning: {error}")).join().unwrap_or_else(|_| panic!("the evaluation overflowed or panicked"));
    for outcome in outcomes {
        assert!(outcome == "true" || outcome.contains("max recursion depth exceeded"), "{outcome}");
    }
}


/// Random token soup: every expression compiles or is refused, and evaluates or fails,
/// without a panic.
#[test]
fn random_expressions_never_panic() {
    const PIECES: &[&str] = &[
        "self", ".", "name", "tags", "labels", "replicas", "(", ")", "[", "]", "{", "}", ",", ":", "?", "!", "-", "+", "*", "/", "%", "==", "!=", "<", ">=",
        "&&", "||", "in", "1", "0", "-9223372036854775808", "9223372036854775807", "1u", "2.5", "'a'", "\"\\u00e9\"", "b'\\xff'", "r'\\d'", "'''x'''",
        "true", "null", "has(", "size(", ".all(x, ", ".exists_one(x, ", ".map(x, ", ".filter(x, ", "x", ".matches('", "a+", "')", ".?", "[?", ".orValue(",
        "int(", "string(", "duration('1s')", "timestamp('2024-01-01T00:00:00Z')", "quantity('1Gi')", "url('http://a/')", "ip('::1')", "cidr('10.0.0.0/8')",
        ".split(','", ".join(", ".substring(", ".charAt(", ".indexOf(", "optional.of(", "dyn(", "type(", "\\", "#", "é", " ", "'", "\"", "1.2.3",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % u64::try_from(bound).unwrap_or(1)).unwrap_or(0)
    };
    let outcome = with_stack(move || {
        for _ in 0..4000 {
            let length = 1 + next(24);
            let source: String = (0..length).map(|_| PIECES[next(PIECES.len())]).collect();
            let _ = run(&source);
        }
        // Valid rules with a piece spliced in somewhere, at a character boundary.
        const RULES: &[&str] = &[
            "self.name.substring(1, 2) == 'e' && self.tags.all(t, t.charAt(0) != '')",
            "self.labels.exists(k, k.split('/').size() < 3) ? self.replicas * 2 > 1 : size(self.tags) == 0",
            "'héllo wörld'.indexOf('ö', 3) + 'abc'.lastIndexOf('c', 1) == 7 || [1, 2, 3].map(x, x > 1, x * x).sum() > 0",
            "self.?labels.orValue({'a': 'b'}).all(k, k.matches('^[a-z]+$')) && quantity('1Gi').isGreaterThan(quantity('1G'))",
        ];
        for _ in 0..4000 {
            let rule = RULES[next(RULES.len())];
            let boundaries: Vec<usize> = rule.char_indices().map(|(at, _)| at).chain([rule.len()]).collect();
            let at = boundaries[next(boundaries.len())];
            let source = format!("{}{}{}", &rule[..at], PIECES[next(PIECES.len())], &rule[at..]);
            let _ = run(&source);
        }
    });
    assert!(outcome.is_some(), "a random expression panicked");
}

/// `source` with `l` a list of `items` integers and `s` one string of `length` characters
/// (shared, as a rule's `self.l.map(x, self.s)` shares it), on the deep stack.
fn run_shared(source: &str, items: usize, length: usize) -> String {
    let variables = vec![("l".to_string(), Type::list(Type::Int)), ("s".to_string(), Type::String)];
    let program = match compile(source, &variables) {
        Ok(program) => program,
        Err(issues) => return format!("compile: {issues}"),
    };
    let values = vec![("l".to_string(), Value::list((0..items).map(|at| Value::Int(at as i64)).collect())), ("s".to_string(), Value::string("a".repeat(length)))];
    let mut cost = Cost::new(cost::PER_CALL_LIMIT);
    with_stack(|| match program.evaluate(values, &mut cost) {
        Ok(value) => shown(&value).chars().take(40).collect(),
        Err(error) => format!("error: {error}"),
    })
    .unwrap_or_else(|| "no thread".into())
}

/// Rules whose results would be far larger than their inputs are charged for the result
/// before it is built, and stop at the cost limit instead of asking for the memory.
#[test]
fn results_are_charged_before_they_are_built() {
    let exceeded = "error: operation cancelled: actual cost limit exceeded";
    let items = 100_000;
    let length = 2_500_000;
    let too_long = "error: error during formatting: result too long";
    for (source, expected) in [
        ("l.map(x, s).join('')", exceeded),
        ("l.map(x, s).join(s)", exceeded),
        ("l.map(x, 'a').join(s)", exceeded),
        // `format` stops at its own bound on the result (1 MiB) before the cost limit.
        ("'%s'.format([l.map(x, s)])", too_long),
        ("'%s'.format([l.map(x, {'k': s})])", too_long),
        ("'%x'.format([s + s + s + s + s])", exceeded),
        ("s + s + s + s + s + s + s + s + s", exceeded),
        ("bytes(s) + bytes(s) + bytes(s) + bytes(s) + bytes(s) + bytes(s) + bytes(s)", exceeded),
        ("string(bytes(s + s + s + s))", exceeded),
        ("s.replace('a', s)", exceeded),
        ("s.replace('', s)", exceeded),
        ("strings.quote(s + s + s + s)", exceeded),
        ("l.map(x, l).map(y, y + y + y).size() > 0", exceeded),
    ] {
        assert_eq!(run_shared(source, items, length), expected, "{source}");
    }
    // Within the limit, the same functions still work.
    assert_eq!(run_shared("l.map(x, s).join('-')", 3, 2), "\"aa-aa-aa\"");
    assert_eq!(run_shared("'%s'.format([l.map(x, s)])", 2, 1), "\"[a, a]\"");
    assert_eq!(run_shared("s.split('').size()", 0, 5), "5");
}

/// The estimate sizes a joined or formatted list by its items times their size, so a rule
/// that would build gigabytes is refused when its CRD is written.
#[test]
fn joins_and_formats_are_estimated_by_their_result() {
    let variables = vec![("l".to_string(), Type::list(Type::String)), ("s".to_string(), Type::String)];
    let bounds = vec![("l".to_string(), Type::list(Type::String), Some(100_000)), ("s".to_string(), Type::String, Some(2_500_000))];
    for source in ["l.map(x, s).join('')", "l.join('')", "'%s'.format([l])"] {
        let program = compile(source, &variables).unwrap_or_else(|issues| panic!("{issues}"));
        assert!(program.estimate(&bounds) > cost::ESTIMATED_LIMIT, "{source}: {}", program.estimate(&bounds));
    }
    let bounded = Type::List(Arc::new(ListType { element: Type::String, kind: ListKind::default(), max_items: Some(10), element_max_size: Some(10) }));
    let small = vec![("l".to_string(), bounded, Some(10)), ("s".to_string(), Type::String, Some(10))];
    let program = compile("l.join(',')", &variables).unwrap_or_else(|issues| panic!("{issues}"));
    assert!(program.estimate(&small) < 1_000.0);
}

/// `source` with `l` a list of `items` integers and `p` the pattern `pattern`.
fn run_pattern(source: &str, items: usize, pattern: &str) -> (String, u64) {
    let variables = vec![("l".to_string(), Type::list(Type::Int)), ("p".to_string(), Type::String)];
    let program = match compile(source, &variables) {
        Ok(program) => program,
        Err(issues) => return (format!("compile: {issues}"), 0),
    };
    let values = vec![("l".to_string(), Value::list((0..items).map(|at| Value::Int(at as i64)).collect())), ("p".to_string(), Value::string(pattern))];
    let mut cost = Cost::new(cost::PER_CALL_LIMIT);
    let shown = match program.evaluate(values, &mut cost) {
        Ok(value) => shown(&value),
        Err(error) => format!("error: {error}"),
    };
    (shown, cost.used)
}

/// A pattern is charged for its length on every call, even on empty text, so a long pattern
/// used per item stops at the cost limit; a short dynamic one still works on every item.
#[test]
fn regex_calls_are_charged_for_their_pattern() {
    // Extended mode ignores the spaces: a 1 MB pattern that compiles to almost nothing.
    let long = format!("(?x){}a", " ".repeat(1_000_000));
    for source in ["l.all(x, !''.matches(p))", "l.all(x, ''.find(p) == '')", "l.all(x, ''.findAll(p).size() == 0)"] {
        assert_eq!(run_pattern(source, 100, &long).0, "error: operation cancelled: actual cost limit exceeded", "{source}");
    }
    let (result, used) = run_pattern("l.all(x, !''.matches(p))", 3, &long);
    assert_eq!(result, "true");
    assert!(used >= 3 * 250_000, "{used}");
    assert_eq!(run_pattern("l.filter(x, string(x).matches(p)).size()", 20, "^1").0, "11");
}

/// Comparing is charged for every item and character it compares, nested too, not only for
/// the top level's items: two lists of 200 distinct 100 kB strings are 20 M characters.
#[test]
fn equality_is_charged_for_what_it_compares() {
    let variables = vec![("a".to_string(), Type::list(Type::String)), ("b".to_string(), Type::list(Type::String))];
    let strings = || Value::list((0..200).map(|_| Value::string("x".repeat(100_000))).collect());
    let evaluate = |source: &str| {
        let program = compile(source, &variables).unwrap_or_else(|issues| panic!("{issues}"));
        let mut cost = Cost::new(cost::PER_CALL_LIMIT);
        let result = program.evaluate(vec![("a".to_string(), strings()), ("b".to_string(), strings())], &mut cost);
        (result.map(|value| shown(&value)).unwrap_or_else(|error| format!("error: {error}")), cost.used)
    };
    let exceeded = "error: operation cancelled: actual cost limit exceeded";
    assert_eq!(evaluate("a == b").0, exceeded);
    assert_eq!(evaluate("[a] == [b]").0, exceeded);
    assert_eq!(evaluate("{'k': a} != {'k': b}").0, exceeded);
    // Membership and the list and set functions compare the same way.
    assert_eq!(evaluate("a in [b]").0, exceeded);
    assert_eq!(evaluate("[b].indexOf(a)").0, exceeded);
    assert_eq!(evaluate("sets.contains([a], [b])").0, exceeded);
    assert_eq!(evaluate("b[0] in a").0, "true");
    // The same shared value compares at once; a short comparison costs little.
    let (same, used) = evaluate("a == a");
    assert_eq!(same, "true");
    assert!(used < 1_000, "{used}");
    assert_eq!(evaluate("a[0] == b[0]").0, "true");
}
