//! The TUI rendered into a test backend: one snapshot per view on the demo data, plus the
//! key → action tables that drive it.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use pulldoctor::source;
use pulldoctor::tui::app::{Action, App, Context, Diagnosed, Effect, PodName, Read, Screen};
use pulldoctor::tui::keymap::{self, BINDINGS};
use pulldoctor::tui::theme::Theme;
use pulldoctor::tui::{reference_time, translate, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn demo_app() -> App {
    let facts = source::facts_from_bundle(&source::demo::bundle(), "demo");
    let now = reference_time(&facts);
    App::new(Diagnosed::of(facts), now)
}

/// What the runtime sends back for a read: the read settled into the app's facts, diagnosed.
fn read_back(app: &App, read: Read) -> Action {
    Action::Diagnosed(Box::new(Diagnosed::settle(read, app.facts())))
}

fn render(app: &mut App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| view::draw(frame, app, Theme { color: false }))
        .unwrap();
    terminal.backend().to_string()
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    match translate(key(code), app) {
        Some(action) => app.update(action),
        None => Vec::new(),
    }
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

#[test]
fn the_wizard_plans_once_the_cluster_is_read() {
    // Live, the wizard opens before the read is done; answering is not held up by it.
    let demo = source::facts_from_bundle(&source::demo::bundle(), "demo");
    let mut app = App::new(Diagnosed::of(Default::default()), reference_time(&demo));
    app.begin_first_read("reading the cluster and AWS…");
    app.open_wizard();
    let mut effects = Vec::new();
    for answer in ["shop", "orders", "shop/web", "", "", ""] {
        type_text(&mut app, answer);
        effects = press(&mut app, KeyCode::Enter);
    }
    assert_eq!(effects, vec![], "no plan before the facts are there");
    let effects = app.update(read_back(&app, Read::Everything(demo)));
    plan_in_the_background(&mut app, effects);
    assert_eq!(
        app.wizard().setup.as_ref().map(|s| s.role_name.as_str()),
        Some("prod-east-shop-orders")
    );
}

/// Does what the runtime does with the wizard's request to plan, offline.
fn plan_in_the_background(app: &mut App, effects: Vec<Effect>) {
    let [Effect::Plan(answers)] = &effects[..] else {
        panic!("the last answer asks for a plan: {effects:?}");
    };
    let planned = pulldoctor::wizard::plan(app.facts(), answers)
        .map(Box::new)
        .map_err(|e| e.join("; "));
    app.update(Action::Planned(planned));
    assert!(app.loading().is_none());
}

/// Selects the pod list row of `pod` and opens it.
fn open_pod(app: &mut App, pod: &str) {
    let row = app
        .visible_findings()
        .iter()
        .position(|&i| app.report().findings[i].pod.as_deref() == Some(pod))
        .unwrap_or_else(|| panic!("{pod} is listed"));
    press(app, KeyCode::Char('g'));
    for _ in 0..row {
        press(app, KeyCode::Down);
    }
    press(app, KeyCode::Enter);
}

#[test]
fn pod_list_at_80x24() {
    let mut app = demo_app();
    let screen = render(&mut app, 80, 24);
    assert!(screen.contains("✗ BROKEN"));
    insta::assert_snapshot!("pod_list_80x24", screen);
}

/// Columns sized to their content: from 100 columns on, every cause of the demo is whole; names
/// give way first.
#[test]
fn pod_list_wide() {
    let mut app = demo_app();
    let causes: Vec<String> = app
        .report()
        .findings
        .iter()
        .filter_map(|f| Some(format!("{}: {}", f.broken_link?, f.cause?)))
        .collect();
    for width in [100, 130, 200] {
        let screen = render(&mut app, width, 24);
        for cause in &causes {
            assert!(
                screen.contains(cause.as_str()),
                "{width}: {cause} cut:\n{screen}"
            );
        }
        insta::assert_snapshot!(format!("pod_list_{width}x24"), screen);
    }
}

#[test]
fn chain_with_a_broken_trust_link() {
    let mut app = demo_app();
    open_pod(&mut app, "api-58d7c9-t4r");
    let screen = render(&mut app, 100, 30);
    assert!(screen.contains("trust-wrong-subject"));
    insta::assert_snapshot!("chain_trust", screen);
}

#[test]
fn the_network_link_draws_its_path_with_the_broken_hop_marked() {
    let mut app = demo_app();
    open_pod(&mut app, "settle-5c4d3b-h7g");
    let screen = render(&mut app, 130, 32);
    let broken_hop = screen
        .lines()
        .find(|l| l.contains("no com.amazonaws.us-east-1.s3"))
        .unwrap_or_else(|| panic!("no S3 hop:\n{screen}"));
    assert!(
        broken_hop.contains("▶") && broken_hop.contains("✗ BROKEN"),
        "{broken_hop}"
    );
    // Drawn as hops, not repeated as the one-line form.
    assert!(!screen.contains("path: node"), "{screen}");
    insta::assert_snapshot!("chain_network_path", screen);
}

#[test]
fn chain_with_a_broken_node_permission() {
    let mut app = demo_app();
    open_pod(&mut app, "checkout-6c9e7a-m3n");
    // The broken link is focused when the chain opens.
    let finding = match app.screen() {
        Screen::Chain { finding } => *finding,
        other => panic!("not the chain: {other:?}"),
    };
    let links = &app.report().findings[finding].links;
    assert_eq!(links[app.selected()].id.as_str(), "pull-permissions");
    insta::assert_snapshot!("chain_node_permission_80x24", render(&mut app, 80, 24));
}

#[test]
fn fix_pane() {
    let mut app = demo_app();
    open_pod(&mut app, "export-29013-4hq7d");
    press(&mut app, KeyCode::Char('f'));
    assert!(matches!(app.screen(), Screen::Fix { .. }));
    let screen = render(&mut app, 100, 40);
    assert!(screen.contains("aws ecr set-repository-policy"));
    insta::assert_snapshot!("fix_cross_account", screen);
    let effects = press(&mut app, KeyCode::Char('y'));
    match effects.as_slice() {
        [Effect::Copy { name, text, .. }] => {
            assert_eq!(name, "fix-batch-export-29013-4hq7d");
            assert!(text.contains("aws ecr set-repository-policy --registry-id 444455556666"));
        }
        other => panic!("expected a copy, got {other:?}"),
    }
}

/// The fix chosen is the fix pane's own: tab moves it, a new read keeps it, copying takes it, and
/// a fix pane opened again starts at the first fix.
#[test]
fn the_fix_choice_belongs_to_its_pane() {
    let mut app = demo_app();
    let finding = app.report().findings.iter().find(|f| f.fixes.len() >= 2);
    let pod = finding
        .and_then(|f| f.pod.clone())
        .expect("a demo pod with two fixes");
    open_pod(&mut app, &pod);
    press(&mut app, KeyCode::Char('f'));
    assert_eq!(app.fix_choice(), 0);
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.fix_choice(), 1);
    let facts = app.facts().as_ref().clone();
    app.update(read_back(&app, Read::Everything(facts)));
    assert!(matches!(app.screen(), Screen::Fix { .. }));
    assert_eq!(app.fix_choice(), 1, "a new read keeps the choice");
    let Screen::Fix { finding } = *app.screen() else {
        unreachable!()
    };
    let second = app.raw().findings[finding].fixes[1].title.clone();
    match press(&mut app, KeyCode::Char('y')).as_slice() {
        [Effect::Copy { text, .. }] => assert!(text.contains(&second), "{text}"),
        other => panic!("expected a copy, got {other:?}"),
    }
    press(&mut app, KeyCode::Esc);
    assert!(matches!(app.screen(), Screen::Chain { .. }));
    press(&mut app, KeyCode::Char('f'));
    assert_eq!(
        app.fix_choice(),
        0,
        "a pane opened again starts at the first fix"
    );
}

#[test]
fn help_lists_every_binding() {
    let mut app = demo_app();
    press(&mut app, KeyCode::Char('?'));
    let screen = render(&mut app, 80, 24);
    // Each key has a line of its own inside the frame, the last one too.
    for b in BINDINGS {
        assert!(
            screen
                .lines()
                .any(|l| l.contains(&format!("│ {:<8}", b.label))),
            "help lacks {}:\n{screen}",
            b.label
        );
    }
    insta::assert_snapshot!("help", screen);
    // Any key closes it.
    press(&mut app, KeyCode::Char('x'));
    assert!(!app.help_open());
}

#[test]
fn browsing_service_accounts_roles_and_repositories() {
    let mut app = demo_app();
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "sa");
    press(&mut app, KeyCode::Enter);
    insta::assert_snapshot!("browse_service_accounts", render(&mut app, 100, 24));
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "roles");
    press(&mut app, KeyCode::Enter);
    let roles = render(&mut app, 100, 24);
    assert!(roles.contains("eks-node-legacy") && roles.contains("shop-checkout"));
    insta::assert_snapshot!("browse_roles", roles);
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "repos");
    press(&mut app, KeyCode::Enter);
    let repos = render(&mut app, 100, 24);
    assert!(repos.contains("data/exporter"));
    insta::assert_snapshot!("browse_repositories", repos);
    // A repository shows who pulls from it and whether each pull identity may.
    let row = app
        .browse_table()
        .unwrap()
        .rows
        .iter()
        .position(|r| r.cells[2] == "data/exporter")
        .unwrap();
    for _ in 0..row {
        press(&mut app, KeyCode::Down);
    }
    press(&mut app, KeyCode::Enter);
    let related = render(&mut app, 100, 24);
    assert!(related.contains("repository data/exporter"));
    assert!(related.contains("export-29013-4hq7d"));
    insta::assert_snapshot!("related_repository", related);
    // And from there into the chain.
    press(&mut app, KeyCode::Enter);
    assert!(matches!(app.screen(), Screen::Chain { .. }));
}

#[test]
fn filter_and_namespace() {
    let mut app = demo_app();
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "trust");
    press(&mut app, KeyCode::Enter);
    let shown = app.visible_findings();
    assert_eq!(shown.len(), 2, "api and ingest have broken trust");
    press(&mut app, KeyCode::Esc);
    assert!(app.filter().is_empty());
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "ns shop");
    press(&mut app, KeyCode::Enter);
    assert!(
        app.visible_findings()
            .iter()
            .all(|&i| app.report().findings[i].namespace == "shop")
    );
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "nope");
    press(&mut app, KeyCode::Enter);
    assert!(app.message().unwrap_or("").contains("unknown command"));
}

#[test]
fn key_to_action_table() {
    let app = demo_app();
    let pods = Screen::Pods;
    let chain = Screen::Chain { finding: 0 };
    let fix = Screen::Fix { finding: 0 };
    let cases = [
        (&pods, KeyCode::Enter, Some(Action::Open)),
        (&chain, KeyCode::Enter, Some(Action::OpenFix)),
        (&chain, KeyCode::Char('f'), Some(Action::OpenFix)),
        (&pods, KeyCode::Char('f'), None),
        (&fix, KeyCode::Char('y'), Some(Action::Copy)),
        (&pods, KeyCode::Char('y'), None),
        (&pods, KeyCode::Char('/'), Some(Action::StartFilter)),
        (&chain, KeyCode::Char('/'), None),
        (&pods, KeyCode::Char(':'), Some(Action::StartCommand)),
        (&pods, KeyCode::Char('?'), Some(Action::Help)),
        (&chain, KeyCode::Esc, Some(Action::Back)),
        (&pods, KeyCode::Char('q'), Some(Action::Quit)),
        (&pods, KeyCode::Char('j'), Some(Action::Down)),
        (&pods, KeyCode::Up, Some(Action::Up)),
        (&pods, KeyCode::Char('r'), Some(Action::Refresh)),
    ];
    for (screen, code, want) in cases {
        assert_eq!(
            keymap::action_for(key(code), screen),
            want,
            "{screen:?} {code:?}"
        );
    }
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(keymap::action_for(ctrl_c, &chain), Some(Action::Quit));
    // The footer comes from the same table.
    let footer: Vec<&str> = keymap::footer(&Screen::Pods)
        .iter()
        .map(|b| b.label)
        .collect();
    assert!(footer.contains(&"enter") && footer.contains(&"q") && !footer.contains(&"y"));
    drop(app);
}

#[test]
fn typing_goes_to_the_filter_not_the_keymap() {
    let mut app = demo_app();
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "q");
    assert_eq!(app.filter(), "q", "q typed into the filter does not quit");
    assert_eq!(
        translate(key(KeyCode::Esc), &app),
        Some(Action::InputCancel)
    );
}

#[test]
fn esc_goes_back_and_never_past_the_pod_list() {
    let mut app = demo_app();
    open_pod(&mut app, "cart-5b8d4f-q7w");
    press(&mut app, KeyCode::Char('f'));
    press(&mut app, KeyCode::Esc);
    assert!(matches!(app.screen(), Screen::Chain { .. }));
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.screen(), &Screen::Pods);
    assert_eq!(press(&mut app, KeyCode::Char('q')), vec![Effect::Quit]);
}

#[test]
fn refresh_reads_in_the_background_and_keeps_the_open_chain() {
    let mut app = demo_app();
    open_pod(&mut app, "invoicer-7d6f5c-z9x");
    let before = app.screen().clone();
    // r reads the selected pod again, not the whole cluster.
    let pod = PodName {
        namespace: "billing".into(),
        name: "invoicer-7d6f5c-z9x".into(),
    };
    assert_eq!(
        press(&mut app, KeyCode::Char('r')),
        vec![Effect::Reload(Some(pod.clone()))]
    );
    assert!(app.loading().is_some());
    // A second r while reading asks for nothing more.
    assert_eq!(press(&mut app, KeyCode::Char('r')), vec![]);
    let screen = render(&mut app, 80, 24);
    assert!(screen.contains("⟳"), "{screen}");
    let facts = app.facts().clone();
    app.update(read_back(&app, Read::Pod(pod, (*facts).clone())));
    assert!(app.loading().is_none());
    assert_eq!(app.screen(), &before);
    // On the pod list, r reads the pod of the selected row; on a browse list, everything.
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Esc);
    let effects = press(&mut app, KeyCode::Char('r'));
    assert!(
        matches!(&effects[..], [Effect::Reload(Some(_))]),
        "{effects:?}"
    );
    app.update(Action::LoadFailed("stop".into()));
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "roles");
    press(&mut app, KeyCode::Enter);
    assert_eq!(
        press(&mut app, KeyCode::Char('r')),
        vec![Effect::Reload(None)]
    );
    app.update(Action::Refresh);
    app.update(Action::LoadFailed(
        "AccessDenied: eks:DescribeCluster".into(),
    ));
    assert_eq!(app.message(), Some("AccessDenied: eks:DescribeCluster"));
    assert!(app.loading().is_none());
}

#[test]
fn opening_before_the_facts_arrive() {
    let facts = pulldoctor::facts::Facts::default();
    let mut app = App::new(
        Diagnosed::of(facts),
        reference_time(&pulldoctor::facts::Facts::default()),
    );
    app.begin_first_read("reading the cluster and AWS…");
    let screen = render(&mut app, 80, 24);
    assert!(screen.contains("reading the cluster and AWS"), "{screen}");
    let demo = source::facts_from_bundle(&source::demo::bundle(), "demo");
    app.update(read_back(&app, Read::Everything(demo)));
    assert_eq!(app.visible_findings().len(), 16);
}

/// `pulldoctor NS/POD` (the k9s plugin): the chain of that pod opens once it is diagnosed; a pod
/// the read does not hold says so on the list.
#[test]
fn opening_on_one_pod_waits_for_its_diagnosis() {
    let empty = pulldoctor::facts::Facts::default();
    let mut app = App::new(Diagnosed::of(empty.clone()), reference_time(&empty));
    app.begin_first_read("reading the cluster and AWS…");
    let pod = |namespace: &str, name: &str| PodName {
        namespace: namespace.into(),
        name: name.into(),
    };
    app.focus_on(pod("shop", "checkout-6c9e7a-m3n"));
    assert_eq!(app.screen(), &Screen::Pods, "nothing to open yet");
    let demo = source::facts_from_bundle(&source::demo::bundle(), "demo");
    app.update(read_back(&app, Read::Everything(demo)));
    let screen = render(&mut app, 100, 30);
    assert!(
        screen.contains("shop/checkout-6c9e7a-m3n · checkout") && screen.contains("PULL LANE"),
        "{screen}"
    );
    let mut app = demo_app();
    app.focus_on(pod("shop", "no-such-pod"));
    assert_eq!(app.screen(), &Screen::Pods);
    let screen = render(&mut app, 100, 30);
    assert!(
        screen.contains("pod shop/no-such-pod is not in"),
        "{screen}"
    );
}

/// `y` on a chain copies the finding as Markdown; on the fix pane, the fix's commands.
#[test]
fn y_copies_the_finding_as_markdown() {
    let mut app = demo_app();
    open_pod(&mut app, "checkout-6c9e7a-m3n");
    match press(&mut app, KeyCode::Char('y')).as_slice() {
        [Effect::Copy { suffix, text, .. }] => {
            assert_eq!(*suffix, ".md");
            assert!(
                text.starts_with("### ✗ broken `shop/checkout-6c9e7a-m3n`"),
                "{text}"
            );
            assert!(text.contains("**✗ pull-permissions**"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    press(&mut app, KeyCode::Char('f'));
    match press(&mut app, KeyCode::Char('y')).as_slice() {
        [Effect::Copy { suffix, text, .. }] => {
            assert_eq!(*suffix, ".sh");
            assert!(text.contains("aws iam put-role-policy"), "{text}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn resizes_draw_cleanly_at_any_size() {
    let mut app = demo_app();
    for (w, h) in [(80, 24), (40, 10), (20, 5), (200, 60), (80, 24)] {
        render(&mut app, w, h);
    }
    open_pod(&mut app, "cart-5b8d4f-q7w");
    for (w, h) in [(30, 8), (1, 1), (120, 40)] {
        render(&mut app, w, h);
    }
}

/// A fix whose target a tenant's annotation chose (the `ecr-role-arn` role, where the node is
/// shown to pull with it) is confirmed twice: the second time saying who chose it, with a typed
/// `yes`.
#[test]
fn a_target_a_tenant_chose_is_confirmed_again() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/scenarios/causes/token-pull.yaml");
    let facts = source::facts_from_bundle(
        &pulldoctor::source::bundle::read(&path).unwrap(),
        "snapshot",
    );
    let now = reference_time(&facts);
    let mut app = App::new(Diagnosed::of(facts), now);
    open_pod(&mut app, "token-fails");
    press(&mut app, KeyCode::Char('f'));
    app.set_context(Context {
        writes_allowed: true,
        ..Context::default()
    });
    press(&mut app, KeyCode::Char('a'));
    type_text(&mut app, "y");
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        vec![],
        "applied at the first yes"
    );
    let asked = app.message().map(str::to_string).unwrap_or_default();
    assert!(
        asked.contains("chosen by tenant-writable metadata") && asked.contains("app/puller"),
        "{asked}"
    );
    // A plain "y" is not enough the second time.
    type_text(&mut app, "y");
    assert_eq!(press(&mut app, KeyCode::Enter), vec![]);
    assert_eq!(app.message(), Some("not applied"));
    press(&mut app, KeyCode::Char('a'));
    type_text(&mut app, "y");
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "yes");
    let effects = press(&mut app, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::Apply(plan)] if plan.target_chosen_by.is_some()),
        "{effects:?}"
    );
}

#[test]
fn applying_from_the_fix_pane_asks_first() {
    let mut app = demo_app();
    open_pod(&mut app, "api-58d7c9-t4r");
    press(&mut app, KeyCode::Char('f'));
    // Read-only: nothing to confirm, nothing to do.
    assert_eq!(press(&mut app, KeyCode::Char('a')), vec![]);
    assert!(app.message().unwrap_or("").contains("--allow-writes"));
    app.set_context(Context {
        writes_allowed: true,
        ..Context::default()
    });
    press(&mut app, KeyCode::Char('a'));
    assert!(
        app.message()
            .unwrap_or("")
            .starts_with("type yes to apply 1 change: iam:UpdateAssumeRolePolicy"),
        "{:?}",
        app.message()
    );
    insta::assert_snapshot!("fix_confirm", render(&mut app, 100, 30));
    // Anything but "yes" for a trust policy is a no.
    type_text(&mut app, "y");
    assert_eq!(press(&mut app, KeyCode::Enter), vec![]);
    assert_eq!(app.message(), Some("not applied"));
    press(&mut app, KeyCode::Char('a'));
    type_text(&mut app, "yes");
    let effects = press(&mut app, KeyCode::Enter);
    let [Effect::Apply(plan)] = effects.as_slice() else {
        panic!("expected an apply, got {effects:?}");
    };
    assert_eq!(plan.writes.len(), 1);
    assert!(
        plan.writes[0]
            .before
            .as_deref()
            .unwrap()
            .contains("api-server")
    );
    // Done: the message says what changed, and the facts are read again.
    let effects = app.update(Action::Applied(Ok(vec![
        "applied iam:UpdateAssumeRolePolicy on trust policy of role billing-api".into(),
    ])));
    assert!(
        matches!(&effects[..], [Effect::Reload(Some(pod))] if pod.name == "api-58d7c9-t4r"),
        "the fixed pod is read again: {effects:?}"
    );
    assert!(app.message().unwrap().contains("applied"));
}

#[test]
fn the_wizard_asks_one_step_at_a_time_and_validates_each() {
    let mut app = demo_app();
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "wizard");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.screen(), &Screen::Wizard);
    type_text(&mut app, "shop");
    press(&mut app, KeyCode::Enter);
    // An invalid answer stays on its step, with the reason.
    type_text(&mut app, "Orders");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.wizard().step, 1);
    assert!(
        app.wizard()
            .error
            .as_deref()
            .unwrap()
            .starts_with("ServiceAccount \"Orders\"")
    );
    insta::assert_snapshot!("wizard_invalid_step", render(&mut app, 100, 24));
    for _ in 0.."Orders".len() {
        press(&mut app, KeyCode::Backspace);
    }
    type_text(&mut app, "orders");
    press(&mut app, KeyCode::Enter);
    // The repositories the registry holds are listed to pick by number.
    let screen = render(&mut app, 120, 40);
    let number = screen
        .lines()
        .find_map(|l| {
            let mut words = l.trim_matches(|c| c == '"' || c == ' ').split_whitespace();
            let n = words.next()?;
            (words.next() == Some("shop/web")).then(|| n.to_string())
        })
        .unwrap_or_else(|| panic!("shop/web is listed:\n{screen}"));
    type_text(&mut app, "99");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.wizard().step, 2);
    assert_eq!(
        app.wizard().error.as_deref(),
        Some("99 is not a number from the list")
    );
    for _ in 0..2 {
        press(&mut app, KeyCode::Backspace);
    }
    type_text(&mut app, &number);
    press(&mut app, KeyCode::Enter);
    assert_eq!(
        app.wizard().answers.repositories,
        vec!["shop/web".to_string()]
    );
    press(&mut app, KeyCode::Enter); // mode: auto
    press(&mut app, KeyCode::Enter); // role name: the default
    let effects = press(&mut app, KeyCode::Enter); // the app's permissions: none
    // The last answer hands the checks and plan to the background, then they arrive.
    assert!(app.loading().is_some());
    plan_in_the_background(&mut app, effects);
    let setup = app
        .wizard()
        .setup
        .clone()
        .expect("the plan is made after the last step");
    assert_eq!(setup.role_name, "prod-east-shop-orders");
    insta::assert_snapshot!("wizard_plan", render(&mut app, 120, 40));
    // Read-only: apply says how to allow it; export asks for a directory.
    assert_eq!(press(&mut app, KeyCode::Char('a')), vec![]);
    assert!(app.message().unwrap().contains("--allow-writes"));
    press(&mut app, KeyCode::Char('e'));
    let effects = press(&mut app, KeyCode::Enter);
    match effects.as_slice() {
        [Effect::Export { dir, setup }] => {
            assert_eq!(dir, "pulldoctor-setup-shop-orders");
            assert_eq!(setup.answers.service_account, "orders");
        }
        other => panic!("expected an export, got {other:?}"),
    }
}

#[test]
fn the_wizard_applies_then_shows_a_pod_of_the_new_service_account() {
    let mut app = demo_app();
    app.set_context(Context {
        writes_allowed: true,
        ..Context::default()
    });
    app.open_wizard();
    let mut effects = Vec::new();
    for answer in ["shop", "orders", "shop/web", "irsa", "", ""] {
        type_text(&mut app, answer);
        effects = press(&mut app, KeyCode::Enter);
    }
    plan_in_the_background(&mut app, effects);
    assert!(app.wizard().setup.is_some());
    press(&mut app, KeyCode::Char('a'));
    assert!(
        app.message()
            .unwrap()
            .starts_with("type yes to apply 3 changes"),
        "{:?}",
        app.message()
    );
    type_text(&mut app, "yes");
    let effects = press(&mut app, KeyCode::Enter);
    assert!(matches!(effects.as_slice(), [Effect::Apply(plan)] if plan.writes.len() == 3));
    let effects = app.update(Action::Applied(Ok(vec![
        "applied iam:CreateRole on new role prod-east-shop-orders".into(),
    ])));
    assert!(
        matches!(effects.as_slice(), [Effect::Verify(setup)] if setup.answers.service_account == "orders")
    );
    app.update(Action::Verified(Ok(
        "✓ ok  shop/pulldoctor-setup-check  container app\n".into(),
    )));
    let screen = render(&mut app, 100, 200);
    assert!(
        screen.contains("a pod of the new ServiceAccount would see:"),
        "{screen}"
    );
    assert!(
        screen.contains("✓ ok  shop/pulldoctor-setup-check"),
        "{screen}"
    );
}

#[test]
fn ctx_lists_and_switches_kube_contexts() {
    let mut app = demo_app();
    let ctx = |app: &mut App, text: &str| {
        press(app, KeyCode::Char(':'));
        type_text(app, text);
        press(app, KeyCode::Enter)
    };
    // Offline input has no context to switch to.
    assert_eq!(ctx(&mut app, "ctx prod"), vec![]);
    assert!(app.message().unwrap().contains("offline"));
    app.set_context(Context {
        writes_allowed: false,
        contexts: vec!["prod".into(), "staging".into()],
        current: Some("prod".into()),
    });
    ctx(&mut app, "ctx");
    assert_eq!(
        app.message(),
        Some("contexts: prod (in use), staging — :ctx NAME switches")
    );
    assert_eq!(ctx(&mut app, "ctx dev"), vec![]);
    assert!(app.message().unwrap().starts_with("no context dev"));
    assert_eq!(ctx(&mut app, "ctx prod"), vec![]);
    // Switching drops the old cluster at once and reads the new one.
    open_pod(&mut app, "cart-5b8d4f-q7w");
    assert_eq!(
        ctx(&mut app, "ctx staging"),
        vec![Effect::SwitchContext("staging".into())]
    );
    assert_eq!(app.screen(), &Screen::Pods);
    assert!(app.visible_findings().is_empty());
    assert_eq!(app.context().current.as_deref(), Some("staging"));
    let screen = render(&mut app, 80, 24);
    assert!(screen.contains("reading context staging"), "{screen}");
}

/// The screen shows escaped text, but a plan sends documents exactly as they were read: a
/// bidirectional mark in a trust policy is kept in `before`, never replaced by its escape.
#[test]
fn a_plan_from_the_tui_sends_documents_unescaped() {
    let mut facts = source::facts_from_bundle(&source::demo::bundle(), "demo");
    let role = facts
        .roles
        .values_mut()
        .find(|r| r.name == "billing-api")
        .expect("the demo has role billing-api");
    if let Ok(trust) = role.trust.as_mut() {
        trust.statements[0].sid = Some("Trust\u{202e}Me".into());
    }
    let now = reference_time(&facts);
    let mut app = App::new(Diagnosed::of(facts), now);
    open_pod(&mut app, "api-58d7c9-t4r");
    press(&mut app, KeyCode::Char('f'));
    assert!(
        render(&mut app, 120, 40).contains("Trust\\u{202e}Me"),
        "shown escaped"
    );
    app.set_context(Context {
        writes_allowed: true,
        ..Context::default()
    });
    press(&mut app, KeyCode::Char('a'));
    type_text(&mut app, "yes");
    let effects = press(&mut app, KeyCode::Enter);
    let [Effect::Apply(plan)] = effects.as_slice() else {
        panic!("expected an apply, got {effects:?}");
    };
    let before = plan.writes[0].before.as_deref().unwrap();
    assert!(before.contains("Trust\u{202e}Me"), "{before}");
}

/// Each screen keeps its own cursor and scroll: going back finds the screen as it was left.
#[test]
fn each_screen_keeps_its_cursor_and_scroll() {
    let mut app = demo_app();
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    assert_eq!(app.selected(), 2);
    press(&mut app, KeyCode::Enter);
    let chain_cursor = app.selected();
    press(&mut app, KeyCode::Up);
    let chain_cursor = chain_cursor.saturating_sub(1);
    assert_eq!(app.selected(), chain_cursor);
    press(&mut app, KeyCode::Char('f'));
    assert!(
        matches!(app.screen(), Screen::Fix { .. }),
        "{:?}",
        app.screen()
    );
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    assert_eq!(app.scroll(), 2);
    press(&mut app, KeyCode::Esc);
    assert!(matches!(app.screen(), Screen::Chain { .. }));
    assert_eq!((app.selected(), app.scroll()), (chain_cursor, 0));
    press(&mut app, KeyCode::Esc);
    assert_eq!((app.screen(), app.selected()), (&Screen::Pods, 2));
}

/// What the background sends is taken while a line is being typed or help is open: a read that
/// ends then is not lost (the loading mark would otherwise stay for ever).
#[test]
fn background_results_arrive_while_typing_or_in_help() {
    let mut app = demo_app();
    assert_eq!(press(&mut app, KeyCode::Char('r')).len(), 1);
    assert!(app.loading().is_some());
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "shop");
    let demo = source::facts_from_bundle(&source::demo::bundle(), "demo");
    app.update(read_back(&app, Read::Everything(demo.clone())));
    assert!(app.loading().is_none());
    assert!(app.input().is_some(), "the filter is still open");
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('r'));
    press(&mut app, KeyCode::Char('?'));
    app.update(Action::LoadFailed("AccessDenied".into()));
    assert!(app.loading().is_none() && app.help_open());
    assert_eq!(app.message(), Some("AccessDenied"));
}

/// A live read tells the pods it has read whole while it goes on: the first read's list shows
/// them at once, still marked as reading; the read's end replaces them; a part told after the
/// end (a race), or during a read again over a whole list, changes nothing.
#[test]
fn a_read_in_progress_shows_the_pods_read_so_far() {
    let demo = source::facts_from_bundle(&source::demo::bundle(), "demo");
    let mut app = App::new(Diagnosed::of(Default::default()), reference_time(&demo));
    app.begin_first_read("reading the cluster and AWS…");
    let mut part = demo.clone();
    part.pods
        .retain(|p| p.metadata.namespace.as_deref() == Some("shop"));
    let shop = part.pods.len();
    assert!(shop > 0 && shop < demo.pods.len());

    let effects = app.update(Action::PartlyDiagnosed(Box::new(Diagnosed::of(
        part.clone(),
    ))));
    assert_eq!(effects, vec![]);
    assert_eq!(app.facts().pods.len(), shop);
    assert!(
        app.report()
            .findings
            .iter()
            .any(|f| f.pod.as_deref() == Some("cart-5b8d4f-q7w"))
    );
    let loading = app.loading().map(str::to_string).expect("still reading");
    assert!(
        loading.contains(&format!("{shop} pod(s) read so far")),
        "{loading}"
    );
    let screen = render(&mut app, 120, 30);
    assert!(
        screen.contains("cart-5b8d4f-q7w") && screen.contains("so far"),
        "{screen}"
    );

    app.update(read_back(&app, Read::Everything(demo.clone())));
    assert!(app.loading().is_none());
    assert_eq!(app.facts().pods.len(), demo.pods.len());
    app.update(Action::PartlyDiagnosed(Box::new(Diagnosed::of(
        part.clone(),
    ))));
    assert_eq!(
        app.facts().pods.len(),
        demo.pods.len(),
        "a late part is ignored"
    );
    assert!(app.loading().is_none());

    // Reading again over a whole read: the list stays whole until the new read ends.
    assert_eq!(
        app.update(Action::ClusterChanged),
        vec![Effect::Reload(None)]
    );
    app.update(Action::PartlyDiagnosed(Box::new(Diagnosed::of(part))));
    assert_eq!(
        app.facts().pods.len(),
        demo.pods.len(),
        "never a shorter list"
    );
}

/// A first read that fails is a screen of its own, never an empty list with zero counts that
/// passes for an all-clear; `r` reads again, and a read that succeeds brings the list back. A
/// later failure, over a read that succeeded, only says so on the status line.
#[test]
fn a_first_read_that_fails_is_its_own_screen() {
    let demo = source::facts_from_bundle(&source::demo::bundle(), "demo");
    let mut app = App::new(Diagnosed::of(Default::default()), reference_time(&demo));
    app.begin_first_read("reading the cluster and AWS…");
    let reading = render(&mut app, 80, 24);
    assert!(reading.contains("nothing read yet"), "{reading}");
    assert!(!reading.contains("0 ok"), "{reading}");

    let why = "no kubeconfig: ~/.kube/config does not exist; for an EKS cluster: aws eks update-kubeconfig --name CLUSTER --region REGION (or pass --kubeconfig / --context); without one: pulldoctor demo";
    app.update(Action::LoadFailed(why.into()));
    assert_eq!(app.screen(), &Screen::ReadFailed);
    assert_eq!(app.read_failed(), Some(why));
    let screen = render(&mut app, 80, 24);
    assert!(screen.contains("could not read the cluster"), "{screen}");
    assert!(!screen.contains("no pods in this input"), "{screen}");
    assert!(!screen.contains("0 ok"), "{screen}");
    // The whole message, wrapped: its end is on screen too.
    assert!(screen.contains("without one: pulldoctor demo"), "{screen}");
    assert!(
        screen.contains("r read again"),
        "the footer says how: {screen}"
    );

    assert_eq!(
        press(&mut app, KeyCode::Char('r')),
        vec![Effect::Reload(None)]
    );
    app.update(read_back(&app, Read::Everything(demo.clone())));
    assert_eq!(app.screen(), &Screen::Pods);
    assert_eq!(app.read_failed(), None);
    assert!(render(&mut app, 80, 24).contains("pods (16)"));

    app.update(Action::LoadFailed("the API server did not answer".into()));
    assert_eq!(app.screen(), &Screen::Pods, "what was read stays");
    assert_eq!(app.read_failed(), None, "leaving is not a failure now");
    assert_eq!(app.message(), Some("the API server did not answer"));
}

/// The wizard on the demo's `shop/web` — which exists, names role shop-web and runs 2 pods —
/// shows the take-over with its diff and pods, and applying it asks a second time.
#[test]
fn the_wizard_takes_over_only_when_told_twice() {
    let mut app = demo_app();
    app.set_context(Context {
        writes_allowed: true,
        ..Context::default()
    });
    app.open_wizard();
    let mut effects = Vec::new();
    for answer in ["shop", "web", "shop/web", "irsa", "", ""] {
        type_text(&mut app, answer);
        effects = press(&mut app, KeyCode::Enter);
    }
    plan_in_the_background(&mut app, effects);
    let screen = render(&mut app, 120, 200);
    assert!(
        screen.contains("! takes over: ServiceAccount shop/web exists"),
        "{screen}"
    );
    assert!(screen.contains("used by 2 pods"), "{screen}");
    assert!(
        screen.contains("-eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/shop-web"),
        "the annotation's diff: {screen}"
    );
    press(&mut app, KeyCode::Char('a'));
    type_text(&mut app, "yes");
    assert_eq!(press(&mut app, KeyCode::Enter), vec![], "asked again first");
    let asked = app.message().map(str::to_string).unwrap_or_default();
    assert!(asked.contains("takes over what exists"), "{asked}");
    type_text(&mut app, "y");
    assert_eq!(press(&mut app, KeyCode::Enter), vec![], "only a typed yes");
    assert_eq!(app.message(), Some("not applied"));
    press(&mut app, KeyCode::Char('a'));
    type_text(&mut app, "yes");
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "yes");
    let effects = press(&mut app, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::Apply(plan)] if !plan.takes_over.is_empty()),
        "{effects:?}"
    );
}

/// Esc while answering goes back one question with its answer as typed; before the first it
/// leaves the wizard for the pod list. A namespace that does not exist is said (with the one a
/// typo away), and taken when given again.
#[test]
fn the_wizard_steps_back_and_says_an_unknown_namespace() {
    let mut app = demo_app();
    app.open_wizard();
    type_text(&mut app, "shpo");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.wizard().step, 0);
    let error = app.wizard().error.clone().unwrap_or_default();
    assert!(
        error.contains("shpo does not exist") && error.contains("did you mean shop?"),
        "{error}"
    );
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.wizard().step, 1, "the same answer again is taken");
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.wizard().step, 0);
    assert_eq!(
        app.input().map(|(_, t)| t),
        Some("shpo"),
        "the answer survives"
    );
    for _ in 0..4 {
        press(&mut app, KeyCode::Backspace);
    }
    type_text(&mut app, "shop");
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "orders");
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.wizard().step, 1);
    assert_eq!(app.input().map(|(_, t)| t), Some("orders"));
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Esc);
    assert_eq!(
        app.screen(),
        &Screen::Pods,
        "out of the wizard, where keys work"
    );
    assert!(app.input().is_none());
}

/// A long answer scrolls sideways in the status line: its end, where the cursor is, stays on
/// screen at 80 columns.
#[test]
fn a_long_answer_scrolls_sideways() {
    let mut app = demo_app();
    app.open_wizard();
    let long =
        "a-namespace-name-that-is-long-enough-to-run-past-the-edge-of-an-80-column-terminal-end";
    type_text(&mut app, long);
    let screen = render(&mut app, 80, 24);
    let status = screen.lines().rev().nth(1).unwrap_or_default();
    assert!(status.contains("terminal-end▏"), "{status}");
    assert!(status.contains("namespace: …"), "{status}");
}

/// At 80×24 the demo's `settle` network path runs below the evidence pane: PgDn/J scrolls it
/// into view (the title says there is more), the footer names the key, and the chain pane is
/// as narrow as its marks allow.
#[test]
fn the_evidence_pane_scrolls_at_80x24() {
    let mut app = demo_app();
    open_pod(&mut app, "settle-5c4d3b-h7g");
    let first = render(&mut app, 80, 24);
    assert!(!first.contains("▶├ ✗ BROKEN   endpoint"), "{first}");
    assert!(first.contains("evidence ↓ more: PgDn/J"), "{first}");
    assert!(
        first.contains("PgDn/J scroll"),
        "the footer names the key: {first}"
    );
    assert!(first.contains("▶└ ✗ network"), "compact marks: {first}");
    press(&mut app, KeyCode::Char('J'));
    let scrolled = render(&mut app, 80, 24);
    assert!(scrolled.contains("▶├ ✗ BROKEN   endpoint"), "{scrolled}");
    // Scrolling stops at the end; another link starts at its top.
    for _ in 0..20 {
        press(&mut app, KeyCode::PageDown);
    }
    let end = render(&mut app, 80, 24);
    assert!(end.contains("evidence ↑ PgUp/K"), "{end}");
    press(&mut app, KeyCode::Char('K'));
    assert!(render(&mut app, 80, 24).contains("evidence ↑↓"));
    press(&mut app, KeyCode::Up);
    assert_eq!(app.scroll(), 0);
    // Wide, the chain shows each status in words.
    assert!(render(&mut app, 140, 40).contains("✗ BROKEN   network"));
}

/// The chain says under its headline who else the broken entity stops, and `b` lists them.
#[test]
fn the_blast_radius_is_a_line_under_the_headline_and_a_list() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/scenarios/causes/pull-permissions.yaml");
    let facts = source::facts_from_bundle(&source::bundle::read(&path).unwrap(), "snapshot");
    let now = reference_time(&facts);
    let mut app = App::new(Diagnosed::of(facts), now);
    open_pod(&mut app, "pp-missing");
    let screen = render(&mut app, 80, 24);
    let radius = screen
        .lines()
        .position(|l| l.contains("radius arn:aws:iam::111122223333:role/pp-missing also stops"))
        .unwrap_or_else(|| panic!("no radius line:\n{screen}"));
    let headline = screen
        .lines()
        .position(|l| l.contains("pull-permissions: pull-permission-missing"))
        .unwrap();
    assert!(radius > headline, "{screen}");
    assert!(
        screen.contains("b blast"),
        "the footer names the key:\n{screen}"
    );

    press(&mut app, KeyCode::Char('b'));
    match app.screen() {
        Screen::Related {
            title,
            lines,
            findings,
        } => {
            assert_eq!(
                title,
                "blast radius of arn:aws:iam::111122223333:role/pp-missing"
            );
            assert!(
                lines[1].contains("pp-boundary, pp-deny, pp-token"),
                "{lines:?}"
            );
            let pods: Vec<_> = findings
                .iter()
                .filter_map(|&i| app.report().findings[i].pod.clone())
                .collect();
            assert!(pods.contains(&"pp-missing".to_string()), "{pods:?}");
        }
        other => panic!("not the radius: {other:?}"),
    }
    insta::assert_snapshot!("blast_radius_80x24", render(&mut app, 80, 24));
    // Enter opens a chain of the list; back returns to it.
    press(&mut app, KeyCode::Enter);
    assert!(matches!(app.screen(), Screen::Chain { .. }));

    // A chain with nothing broken has no radius: `b` says so and stays.
    let mut demo = demo_app();
    let healthy = demo
        .visible_findings()
        .iter()
        .find_map(|&i| {
            let f = &demo.report().findings[i];
            f.blast_radius.is_none().then(|| f.pod.clone()).flatten()
        })
        .expect("a finding without a radius");
    open_pod(&mut demo, &healthy);
    press(&mut demo, KeyCode::Char('b'));
    assert!(matches!(demo.screen(), Screen::Chain { .. }));
    assert!(render(&mut demo, 100, 30).contains("no blast radius"));
}
