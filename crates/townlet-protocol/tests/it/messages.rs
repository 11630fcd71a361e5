//! Round trips, the wire shape, non-finite floats and every bad-input case.

use serde_json::Value;
use townlet_protocol::examples::{client_examples, episode, server_examples, stats};
use townlet_protocol::*;

fn wire(message: &ServerMessage) -> Value {
    serde_json::from_str(&to_json(message)).expect("to_json emits valid JSON")
}

#[test]
fn every_server_type_has_an_example_in_order() {
    let names: Vec<&str> = server_examples().iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ServerMessage::TYPES);
    for (name, message) in server_examples() {
        assert_eq!(message.type_name(), name);
    }
}

#[test]
fn every_client_type_has_an_example_in_order() {
    let names: Vec<&str> = client_examples().iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ClientMessage::TYPES);
    for (name, message) in client_examples() {
        assert_eq!(message.type_name(), name);
    }
}

#[test]
fn server_messages_round_trip_with_type_and_version() {
    for (name, message) in server_examples() {
        let json = to_json(&message);
        let value = wire(&message);
        assert_eq!(value["type"], name, "{json}");
        assert_eq!(value["v"], PROTOCOL_VERSION, "{json}");
        let back = parse_server_message(&json).unwrap_or_else(|e| panic!("{name}: {e}\n{json}"));
        assert_eq!(back, message, "{name}");
    }
}

#[test]
fn client_messages_round_trip() {
    for (name, message) in client_examples() {
        let json = message.to_json();
        let value: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["type"], name);
        let back = parse_client_message(&json).unwrap_or_else(|e| panic!("{name}: {e}\n{json}"));
        assert_eq!(back, message);
    }
}

#[test]
fn long_temporal_episode_round_trips_and_columns_agree() {
    let ep = episode(42, 500, true);
    assert!(ep.steps.len() > 10);
    ep.steps.check_lengths().unwrap();
    assert!(ep.steps.time_of_day.iter().all(Option::is_some));
    let message = ServerMessage::Episode(ep.clone());
    let back = parse_server_message(&to_json(&message)).unwrap();
    assert_eq!(back, message);
    // Rows rebuild the same columns.
    let rebuilt: StepColumns = (0..ep.steps.len())
        .filter_map(|i| ep.steps.row(i))
        .collect();
    assert_eq!(rebuilt, ep.steps);
    assert!(ep.steps.row(ep.steps.len()).is_none());
}

#[test]
fn columns_report_a_short_column() {
    let mut columns = episode(3, 5, false).steps;
    columns.reward.pop();
    let err = columns.check_lengths().unwrap_err();
    assert!(err.contains("reward"), "{err}");
}

#[test]
fn step_message_inlines_the_row() {
    let ep = episode(9, 4, false);
    let row = ep.steps.row(1).unwrap();
    let value = wire(&ServerMessage::Step(StepMessage {
        run_id: "main".into(),
        episode_id: 9,
        index: 1,
        row: row.clone(),
    }));
    assert_eq!(value["index"], 1);
    assert_eq!(value["step"], 2);
    assert_eq!(value["meters"].as_array().unwrap().len(), 8);
    assert_eq!(value["position"], serde_json::json!(row.position));
}

#[test]
fn speed_and_filter_wire_forms() {
    let value: Value = serde_json::from_str(
        &ClientMessage::SetSpeed {
            speed: Speed::Instant,
        }
        .to_json(),
    )
    .unwrap();
    assert_eq!(value["speed"], "instant");
    let value: Value = serde_json::from_str(
        &ClientMessage::SetFilter {
            filter: Filter::EveryNth { n: 7 },
        }
        .to_json(),
    )
    .unwrap();
    assert_eq!(
        value["filter"],
        serde_json::json!({"kind": "every_nth", "n": 7})
    );
    // Integer speeds are accepted and every_nth defaults to 10
    // (docs/decisions.md#filters-are-server-side).
    assert_eq!(
        parse_client_message(r#"{"type":"set_speed","speed":3}"#).unwrap(),
        ClientMessage::SetSpeed {
            speed: Speed::Factor(3.0)
        }
    );
    assert_eq!(
        parse_client_message(r#"{"type":"set_filter","filter":{"kind":"every_nth"}}"#).unwrap(),
        ClientMessage::SetFilter {
            filter: Filter::EveryNth { n: 10 }
        }
    );
    assert_eq!(Speed::Factor(2.0).steps_per_second(), Some(10.0));
    assert_eq!(Speed::Instant.steps_per_second(), None);
}

#[test]
fn defaults_fill_optional_fields() {
    assert_eq!(
        parse_client_message(r#"{"type":"subscribe"}"#).unwrap(),
        ClientMessage::Subscribe {
            delivery: Delivery::Episode,
            speed: Speed::Factor(1.0),
            filter: Filter::All
        }
    );
    assert_eq!(
        parse_client_message(r#"{"type":"next"}"#).unwrap(),
        ClientMessage::Next {
            after: None,
            order: Order::Latest
        }
    );
    assert_eq!(
        parse_client_message(r#"{"type":"list_recordings","v":2}"#).unwrap(),
        ClientMessage::ListRecordings {
            filters: RecordingFilters::default()
        }
    );
    // Unknown extra fields are ignored (forward compatibility).
    assert_eq!(
        parse_client_message(r#"{"type":"pause","note":"x"}"#).unwrap(),
        ClientMessage::Pause
    );
}

#[test]
fn non_finite_floats_become_null() {
    let mut ep = episode(5, 3, false);
    ep.steps.reward[0] = f32::NAN;
    ep.steps.meters[1][2] = f32::INFINITY;
    ep.steps.q_values[2] = Some(vec![f32::NEG_INFINITY; 8]);
    ep.metadata.total_reward = f32::NAN;
    ep.metadata.timestamp = f64::INFINITY;
    let json = to_json(&ServerMessage::Episode(ep));
    for bad in ["NaN", "Infinity", "inf"] {
        assert!(!json.contains(bad), "{bad} in {json}");
    }
    let value: Value = serde_json::from_str(&json).expect("still valid JSON");
    assert!(value["steps"]["reward"][0].is_null());
    assert!(value["steps"]["meters"][1][2].is_null());
    assert!(value["steps"]["q_values"][2][0].is_null());
    assert!(value["metadata"]["total_reward"].is_null());
    assert!(value["metadata"]["timestamp"].is_null());

    let mut s = stats(10, 3);
    s.steps_per_second = f64::NAN;
    s.last_loss = Some(f32::INFINITY);
    let value = wire(&ServerMessage::Stats(s));
    assert!(value["steps_per_second"].is_null());
    assert!(value["last_loss"].is_null());
}

#[test]
fn error_replies_carry_code_message_and_request() {
    let err = parse_client_message(r#"{"type":"set_speed","speed":0}"#).unwrap_err();
    let value = wire(&err.to_server_message());
    assert_eq!(value["type"], "error");
    assert_eq!(value["code"], "invalid_speed");
    assert_eq!(value["request"], "set_speed");
    assert!(value["message"].as_str().unwrap().contains("0.25"));
}

#[test]
fn error_codes_spell_as_on_the_wire() {
    for code in ErrorCode::ALL {
        let value = serde_json::to_value(code).unwrap();
        assert_eq!(value, code.as_str());
        assert_eq!(code.to_string(), code.as_str());
    }
}

/// Every bad input with the code it must produce.
#[test]
fn bad_inputs_get_their_codes() {
    let cases: &[(&str, ErrorCode)] = &[
        // Not JSON at all / broken JSON / JSON that cannot be a number.
        ("hello", ErrorCode::InvalidJson),
        ("", ErrorCode::InvalidJson),
        (r#"{"type":"pause""#, ErrorCode::InvalidJson),
        (
            r#"{"type":"set_speed","speed":NaN}"#,
            ErrorCode::InvalidJson,
        ),
        (
            r#"{"type":"set_speed","speed":1e999}"#,
            ErrorCode::InvalidJson,
        ),
        // Valid JSON, wrong shape.
        ("[1,2]", ErrorCode::NotAnObject),
        ("\"pause\"", ErrorCode::NotAnObject),
        ("null", ErrorCode::NotAnObject),
        ("{}", ErrorCode::MissingType),
        (r#"{"type":5}"#, ErrorCode::MissingType),
        (r#"{"type":null}"#, ErrorCode::MissingType),
        (r#"{"type":"fly"}"#, ErrorCode::UnknownType),
        (r#"{"type":""}"#, ErrorCode::UnknownType),
        (r#"{"type":"hello"}"#, ErrorCode::UnknownType),
        (r#"{"type":"Pause"}"#, ErrorCode::UnknownType),
        (r#"{"type":"pause","v":1}"#, ErrorCode::UnsupportedVersion),
        (r#"{"type":"pause","v":3}"#, ErrorCode::UnsupportedVersion),
        (r#"{"type":"pause","v":"1"}"#, ErrorCode::UnsupportedVersion),
        // Speeds (docs/decisions.md#speeds-and-limits).
        (r#"{"type":"set_speed","speed":0}"#, ErrorCode::InvalidSpeed),
        (
            r#"{"type":"set_speed","speed":-1}"#,
            ErrorCode::InvalidSpeed,
        ),
        (
            r#"{"type":"set_speed","speed":0.1}"#,
            ErrorCode::InvalidSpeed,
        ),
        (
            r#"{"type":"set_speed","speed":50.5}"#,
            ErrorCode::InvalidSpeed,
        ),
        (
            r#"{"type":"set_speed","speed":1e300}"#,
            ErrorCode::InvalidSpeed,
        ),
        (
            r#"{"type":"set_speed","speed":"NaN"}"#,
            ErrorCode::InvalidSpeed,
        ),
        (
            r#"{"type":"set_speed","speed":"fast"}"#,
            ErrorCode::InvalidSpeed,
        ),
        (
            r#"{"type":"set_speed","speed":null}"#,
            ErrorCode::InvalidSpeed,
        ),
        (
            r#"{"type":"set_speed","speed":[1]}"#,
            ErrorCode::InvalidSpeed,
        ),
        (
            r#"{"type":"subscribe","speed":100}"#,
            ErrorCode::InvalidSpeed,
        ),
        (r#"{"type":"set_speed"}"#, ErrorCode::InvalidField),
        // Filters (docs/decisions.md#filters-are-server-side).
        (
            r#"{"type":"set_filter","filter":{"kind":"every_nth","n":0}}"#,
            ErrorCode::InvalidFilter,
        ),
        (
            r#"{"type":"set_filter","filter":{"kind":"every_nth","n":-3}}"#,
            ErrorCode::InvalidFilter,
        ),
        (
            r#"{"type":"set_filter","filter":{"kind":"random"}}"#,
            ErrorCode::InvalidFilter,
        ),
        (
            r#"{"type":"set_filter","filter":{}}"#,
            ErrorCode::InvalidFilter,
        ),
        (
            r#"{"type":"set_filter","filter":"all"}"#,
            ErrorCode::InvalidFilter,
        ),
        (
            r#"{"type":"subscribe","filter":{"kind":"every_nth","n":0}}"#,
            ErrorCode::InvalidFilter,
        ),
        (r#"{"type":"set_filter"}"#, ErrorCode::InvalidField),
        // Other fields.
        (
            r#"{"type":"subscribe","delivery":"carrier_pigeon"}"#,
            ErrorCode::InvalidField,
        ),
        (r#"{"type":"next","after":-1}"#, ErrorCode::InvalidField),
        (r#"{"type":"next","after":"5"}"#, ErrorCode::InvalidField),
        (
            r#"{"type":"next","order":"random"}"#,
            ErrorCode::InvalidField,
        ),
        (r#"{"type":"get_episode"}"#, ErrorCode::InvalidField),
        (
            r#"{"type":"get_episode","id":1.5}"#,
            ErrorCode::InvalidField,
        ),
        (
            r#"{"type":"set_policy","greedy":"yes"}"#,
            ErrorCode::InvalidField,
        ),
        (r#"{"type":"load_replay","id":3}"#, ErrorCode::InvalidField),
        (r#"{"type":"seek","index":-1}"#, ErrorCode::InvalidField),
        (r#"{"type":"watch"}"#, ErrorCode::InvalidField),
        (r#"{"type":"watch","run_id":7}"#, ErrorCode::InvalidField),
        (
            r#"{"type":"seek","index":4294967296}"#,
            ErrorCode::InvalidField,
        ),
        (
            r#"{"type":"list_recordings","filters":{"limit":"ten"}}"#,
            ErrorCode::InvalidField,
        ),
        (
            r#"{"type":"list_recordings","filters":{"end_reason":"bored"}}"#,
            ErrorCode::InvalidField,
        ),
        // Out-of-range values.
        (
            r#"{"type":"list_recordings","filters":{"limit":0}}"#,
            ErrorCode::InvalidValue,
        ),
        (
            r#"{"type":"list_recordings","filters":{"limit":100000}}"#,
            ErrorCode::InvalidValue,
        ),
        (
            r#"{"type":"list_recordings","filters":{"stage":0}}"#,
            ErrorCode::InvalidValue,
        ),
        (
            r#"{"type":"list_recordings","filters":{"min_reward":5,"max_reward":1}}"#,
            ErrorCode::InvalidValue,
        ),
    ];
    for (input, code) in cases {
        match parse_client_message(input) {
            Ok(m) => panic!("{input} was accepted as {m:?}"),
            Err(e) => {
                assert_eq!(e.code, *code, "{input}: {e}");
                assert!(!e.message.is_empty());
            }
        }
    }
}

#[test]
fn accepted_edge_values() {
    for input in [
        r#"{"type":"set_speed","speed":0.25}"#,
        r#"{"type":"set_speed","speed":50}"#,
        r#"{"type":"set_speed","speed":"instant"}"#,
        r#"{"type":"set_filter","filter":{"kind":"every_nth","n":1}}"#,
        r#"{"type":"list_recordings","filters":{"limit":1000,"min_reward":1,"max_reward":1}}"#,
        r#"{"type":"seek","index":0}"#,
        r#"{"type":"watch","run_id":"with-curiosity","v":2}"#,
        r#"{"type":"next","after":null,"order":"sequential"}"#,
        r#"{"type":"subscribe","delivery":"steps","speed":"instant","filter":{"kind":"failures"}}"#,
    ] {
        parse_client_message(input).unwrap_or_else(|e| panic!("{input}: {e}"));
    }
}

#[test]
fn oversized_frame_is_refused_before_parsing() {
    let big = format!(
        r#"{{"type":"pause","pad":"{}"}}"#,
        "x".repeat(MAX_INBOUND_FRAME_BYTES as usize)
    );
    assert_eq!(
        parse_client_message(&big).unwrap_err().code,
        ErrorCode::FrameTooLarge
    );
}

#[test]
fn unknown_type_is_echoed_truncated() {
    let long = "z".repeat(500);
    let err = parse_client_message(&format!(r#"{{"type":"{long}"}}"#)).unwrap_err();
    assert_eq!(err.code, ErrorCode::UnknownType);
    assert!(err.message.len() < 200, "{}", err.message);
    assert!(err.request.unwrap().len() < 100);
}

#[test]
fn server_parser_checks_version() {
    let json = to_json(&ServerMessage::Stats(stats(3, 0)));
    let other = json.replacen(r#""v":2"#, r#""v":99"#, 1);
    assert_eq!(
        parse_server_message(&other).unwrap_err().code,
        ErrorCode::UnsupportedVersion
    );
    let none = json.replacen(r#","v":2"#, "", 1);
    assert_eq!(
        parse_server_message(&none).unwrap_err().code,
        ErrorCode::InvalidField
    );
}

#[test]
fn stats_history_is_oldest_first_and_bounded() {
    let s = stats(1500, u64::from(HISTORY_LEN));
    let history = s.history.unwrap();
    assert_eq!(history.len(), HISTORY_LEN as usize);
    assert_eq!(history[0].episode_id, 500);
    assert_eq!(history.last().unwrap().episode_id, 1499);
}

#[test]
fn server_paced_helpers_follow_the_episode() {
    let ep = episode(77, 6, true);
    let n = ep.steps.len() as u32;
    let start = ep.start_message(5);
    assert_eq!(start.total_steps, n);
    assert_eq!(start.layout, ep.layout);
    let last = ep.step_message(n - 1).unwrap();
    assert_eq!(last.row.step, n);
    assert_eq!(last.index, n - 1);
    assert!(ep.step_message(n).is_none());
    assert_eq!(ep.end_message(9).metadata, ep.metadata);
    assert_eq!(ep.summary(3).sent_at, 3);
    let point = ep.metadata.history_point(ep.episode_id);
    assert_eq!(point.survival_steps, ep.metadata.survival_steps);
}

#[test]
fn speed_step_interval() {
    use std::time::Duration;
    assert_eq!(
        Speed::Factor(1.0).step_interval(),
        Some(Duration::from_millis(200))
    );
    assert_eq!(
        Speed::Factor(50.0).step_interval(),
        Some(Duration::from_millis(4))
    );
    assert_eq!(Speed::Instant.step_interval(), None);
    assert_eq!(Speed::Factor(0.0).step_interval(), None);
}

/// Version 2: every run-specific message names its run; `hello` lists the runs.
#[test]
fn run_specific_messages_carry_their_run_id() {
    use townlet_protocol::examples::{LAB_RUNS, LAB_TITLE};
    for (name, message) in server_examples() {
        let value = wire(&message);
        match name {
            "hello" | "runs" => {
                assert!(value.get("run_id").is_none_or(|v| v == LAB_RUNS[0]));
                assert_eq!(value["lab_title"], LAB_TITLE);
                assert_eq!(value["runs"].as_array().unwrap().len(), 2, "{name}");
                assert_eq!(message.run_id(), None);
            }
            // The presenter's position names its run inside `state`.
            "presenting" => {
                assert_eq!(message.run_id(), None);
                assert_eq!(value["state"]["run_id"], LAB_RUNS[0]);
            }
            // An error not tied to a run has no `run_id` on the wire.
            "error" => {
                assert!(value.get("run_id").is_none(), "{value}");
                assert_eq!(value["code"], "unknown_run");
            }
            _ => {
                assert_eq!(value["run_id"], LAB_RUNS[0], "{name}");
                assert_eq!(message.run_id(), Some(LAB_RUNS[0]), "{name}");
            }
        }
    }
    let err = ProtocolError::new(ErrorCode::UnknownEpisode, "no episode 9");
    let message = err.to_server_message_for(Some("epsilon-only"));
    let value = wire(&message);
    assert_eq!(value["run_id"], "epsilon-only");
    assert_eq!(parse_server_message(&to_json(&message)).unwrap(), message);
}

#[test]
fn run_info_wire_form() {
    use townlet_protocol::examples::lab_runs;
    let runs = lab_runs();
    let value = serde_json::to_value(&runs[1]).unwrap();
    assert_eq!(value["status"], "finished");
    assert_eq!(value["mode"], "live");
    assert_eq!(
        value["overrides"],
        serde_json::json!({"exploration.initial_intrinsic_weight": "0"})
    );
    assert!(runs.iter().all(|r| r.sparkline.len() <= 50));
    assert_eq!(
        parse_client_message(r#"{"type":"watch","run_id":"epsilon-only"}"#).unwrap(),
        ClientMessage::Watch {
            run_id: "epsilon-only".into()
        }
    );
    // A version-1 frame is refused by a version-2 client.
    let old = r#"{"type":"runs","runs":[],"lab_title":null,"v":1}"#;
    assert_eq!(
        parse_server_message(old).unwrap_err().code,
        ErrorCode::UnsupportedVersion
    );
}
