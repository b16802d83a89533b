//! The cases. Each is a plain async function over a [`Ctx`]; the table at the bottom names
//! them and the capabilities they need. (Over 600 lines on purpose: the suite is read as one
//! list, in the order of Django's own tests, each case a short function.)

use chrono::TimeDelta;
use session_core::key::generate_key;
use session_core::{Clock, Error, Expiry, Map, Record, Session, Value};

use crate::{Case, CaseResult, Ctx, Failure, Needs, check, check_eq};

const COOKIE_AGE: i64 = 1_209_600;

fn is_gone(r: Result<(), Error>) -> bool {
    matches!(r, Err(Error::Gone))
}

/// Saves a session holding `pairs` and returns its key.
async fn saved(ctx: &Ctx, pairs: &[(&str, Value)]) -> Result<String, Failure> {
    let mut s = ctx.session(None);
    for (k, v) in pairs {
        s.insert_value(k, v.clone()).await?;
    }
    s.save(false).await?;
    s.session_key()
        .map(str::to_owned)
        .ok_or_else(|| Failure("no key after save".into()))
}

// ---- Basic flags and dict behaviour (Django: SessionTestsMixin) ---------------------------

async fn new_session(ctx: Ctx) -> CaseResult {
    let s = ctx.session(None);
    check!(
        !s.accessed() && !s.modified(),
        "a new session must be neither accessed nor modified"
    );
    Ok(())
}

async fn get_empty(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    check_eq!(s.get_value("cat").await?, None, "get of a missing key");
    Ok(())
}

async fn store(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    s.insert_value("cat", "dog").await?;
    check!(s.modified(), "insert must mark modified");
    check_eq!(
        s.remove("cat").await?,
        Some(Value::from("dog")),
        "pop returns the value"
    );
    Ok(())
}

async fn pop(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    s.insert_value("some key", "exists").await?;
    s.reset_flags();
    check_eq!(
        s.remove("some key").await?,
        Some(Value::from("exists")),
        "pop"
    );
    check!(
        s.accessed() && s.modified(),
        "pop of a present key marks accessed and modified"
    );
    check_eq!(s.get_value("some key").await?, None, "popped key is gone");
    Ok(())
}

async fn pop_default(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    check_eq!(
        s.pop_or("some key", "does not exist").await?,
        Value::from("does not exist"),
        "pop default"
    );
    check!(
        s.accessed() && !s.modified(),
        "pop of a missing key: accessed, not modified"
    );
    Ok(())
}

async fn pop_no_default_reports_missing(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    check_eq!(
        s.remove("some key").await?,
        None,
        "missing key is reported (Django: KeyError)"
    );
    check!(!s.modified(), "nothing removed, not modified");
    Ok(())
}

async fn setdefault(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    check_eq!(
        s.setdefault("foo", "bar").await?,
        Value::from("bar"),
        "first setdefault"
    );
    check_eq!(
        s.setdefault("foo", "baz").await?,
        Value::from("bar"),
        "second setdefault"
    );
    check!(
        s.accessed() && s.modified(),
        "setdefault that inserts marks both flags"
    );
    Ok(())
}

async fn update(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    s.update([("update key", 1)]).await?;
    check!(s.accessed() && s.modified(), "update marks both flags");
    check_eq!(
        s.get_value("update key").await?,
        Some(Value::from(1)),
        "updated value"
    );
    let mut t = ctx.session(None);
    t.update(Vec::<(String, Value)>::new()).await?;
    check!(t.modified(), "update with nothing still marks modified");
    Ok(())
}

async fn has_key(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    s.insert_value("some key", 1).await?;
    s.reset_flags();
    check!(s.contains("some key").await?, "contains");
    check!(
        s.accessed() && !s.modified(),
        "contains: accessed, not modified"
    );
    Ok(())
}

async fn values(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    check!(s.values().await?.is_empty(), "values of an empty session");
    check!(s.accessed(), "values marks accessed");
    s.insert_value("some key", 1).await?;
    s.reset_flags();
    check_eq!(s.values().await?, vec![Value::from(1)], "values");
    check!(
        s.accessed() && !s.modified(),
        "values: accessed, not modified"
    );
    Ok(())
}

async fn keys(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    s.insert_value("x", 1).await?;
    s.reset_flags();
    check_eq!(s.keys().await?, vec!["x".to_owned()], "keys");
    check!(
        s.accessed() && !s.modified(),
        "keys: accessed, not modified"
    );
    Ok(())
}

async fn items(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    s.insert_value("x", 1).await?;
    s.reset_flags();
    check_eq!(
        s.items().await?,
        vec![("x".to_owned(), Value::from(1))],
        "items"
    );
    check!(
        s.accessed() && !s.modified(),
        "items: accessed, not modified"
    );
    Ok(())
}

async fn clear(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    s.insert_value("x", 1).await?;
    s.reset_flags();
    s.clear();
    check!(s.items().await?.is_empty(), "clear empties");
    check!(s.accessed() && s.modified(), "clear marks both flags");
    Ok(())
}

async fn test_cookie(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    check!(!s.contains("testcookie").await?, "no test cookie at first");
    s.set_test_cookie().await?;
    check!(s.test_cookie_worked().await?, "test cookie worked");
    check!(s.delete_test_cookie().await?, "test cookie deleted");
    check!(!s.contains("testcookie").await?, "test cookie gone");
    Ok(())
}

async fn is_empty(ctx: Ctx) -> CaseResult {
    let s = ctx.session(None);
    check!(s.is_empty(), "a fresh session is empty");
    let mut t = ctx.session(None);
    t.insert_value("x", 1).await?;
    check!(!t.is_empty(), "a session with data is not empty");
    let u = ctx.session(Some("testkey1234"));
    check!(
        !u.is_empty(),
        "a session with a key but no data is not empty"
    );
    check!(!u.accessed(), "is_empty never loads");
    Ok(())
}

// ---- Persistence lifecycle -----------------------------------------------------------------

async fn save(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    s.save(false).await?;
    let key = s.session_key().unwrap_or_default().to_owned();
    check!(s.exists(&key).await?, "saved session exists");
    Ok(())
}

async fn delete(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    s.save(false).await?;
    let key = s.session_key().unwrap_or_default().to_owned();
    s.delete(Some(&key)).await?;
    check!(!s.exists(&key).await?, "deleted session does not exist");
    Ok(())
}

async fn flush(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    s.insert_value("foo", "bar").await?;
    s.save(false).await?;
    let prev = s.session_key().unwrap_or_default().to_owned();
    s.flush().await?;
    check!(!s.exists(&prev).await?, "flushed session no longer exists");
    check_eq!(s.session_key(), None, "no key after flush");
    check!(s.modified() && s.accessed(), "flush marks both flags");
    check!(
        ctx.store.load(&prev).await?.is_none(),
        "flushed session does not load"
    );
    Ok(())
}

async fn cycle(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    s.insert_value("a", "c").await?;
    s.insert_value("b", "d").await?;
    s.save(false).await?;
    let prev_key = s.session_key().unwrap_or_default().to_owned();
    let prev_items = s.items().await?;
    s.cycle_key().await?;
    check!(!s.exists(&prev_key).await?, "old key no longer exists");
    check!(
        s.session_key() != Some(prev_key.as_str()),
        "new key differs"
    );
    check_eq!(s.items().await?, prev_items, "data kept in order");
    let new_key = s.session_key().unwrap_or_default().to_owned();
    let stored = ctx.store.load(&new_key).await?;
    check!(
        stored.is_some_and(|m| m.len() == 2),
        "data stored under the new key"
    );
    Ok(())
}

async fn cycle_with_no_session_cache(ctx: Ctx) -> CaseResult {
    let key = saved(&ctx, &[("a", "c".into()), ("b", "d".into())]).await?;
    let mut s = ctx.session(Some(&key));
    s.cycle_key().await?;
    let mut items = s.items().await?;
    items.sort_by(|a, b| a.0.cmp(&b.0));
    check_eq!(
        items,
        vec![
            ("a".to_owned(), Value::from("c")),
            ("b".to_owned(), Value::from("d"))
        ],
        "data survives cycle_key without a loaded cache"
    );
    Ok(())
}

async fn save_doesnt_clear_data(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    s.insert_value("a", "b").await?;
    s.save(false).await?;
    check_eq!(
        s.get_value("a").await?,
        Some(Value::from("b")),
        "data still readable after save"
    );
    Ok(())
}

/// Engines may share the stored session with the requests that read it (the in-process
/// cache does): a change nobody saved must never show in the store, nor in another request
/// holding the same session.
async fn unsaved_changes_never_reach_the_store(ctx: Ctx) -> CaseResult {
    let mut writer = ctx.session(None);
    writer.insert_value("n", 1).await?;
    writer.save(false).await?;
    let key = writer.session_key().unwrap_or_default().to_owned();
    // Changed after its save, not saved again.
    writer.insert_value("n", 2).await?;
    let mut reader = ctx.session(Some(&key));
    check_eq!(
        reader.get_value("n").await?,
        Some(Value::from(1)),
        "the saved value"
    );
    // Two requests on the same session: one changes without saving.
    let mut other = ctx.session(Some(&key));
    other.get_value("n").await?;
    reader.insert_value("n", 3).await?;
    reader.remove("n").await?;
    check_eq!(
        other.get_value("n").await?,
        Some(Value::from(1)),
        "unchanged in another request"
    );
    let mut fresh = ctx.session(Some(&key));
    check_eq!(
        fresh.get_value("n").await?,
        Some(Value::from(1)),
        "unchanged in the store"
    );
    Ok(())
}

async fn create_and_save(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    s.create().await?;
    s.save(false).await?;
    let key = s.session_key().unwrap_or_default().to_owned();
    check!(
        ctx.store.load(&key).await?.is_some(),
        "created then saved session loads"
    );
    Ok(())
}

async fn decode_round_trip(ctx: Ctx) -> CaseResult {
    let key = saved(&ctx, &[("a test key", "a test value".into())]).await?;
    let mut s = ctx.session(Some(&key));
    check_eq!(
        s.get_value("a test key").await?,
        Some(Value::from("a test value")),
        "round trip through the store"
    );
    Ok(())
}

// ---- Key validation ------------------------------------------------------------------------

async fn invalid_key(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(Some("1"));
    check_eq!(s.session_key(), None, "a 1-character key is no key");
    s.save(false).await?;
    let key = s.session_key().unwrap_or_default().to_owned();
    check!(key != "1" && key.len() >= 8, "saved under a fresh key");
    check!(s.get_value("cat").await?.is_none(), "no data");
    s.delete(None).await?;
    Ok(())
}

async fn session_key_empty_string_invalid(ctx: Ctx) -> CaseResult {
    check_eq!(ctx.session(Some("")).session_key(), None, "empty key");
    Ok(())
}

async fn session_key_too_short_invalid(ctx: Ctx) -> CaseResult {
    check_eq!(
        ctx.session(Some("1234567")).session_key(),
        None,
        "7-character key"
    );
    Ok(())
}

async fn session_key_valid_string_saved(ctx: Ctx) -> CaseResult {
    check_eq!(
        ctx.session(Some("12345678")).session_key(),
        Some("12345678"),
        "8-character key kept"
    );
    Ok(())
}

async fn load_overlong_key(ctx: Ctx) -> CaseResult {
    let key = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".repeat(20);
    let mut s = ctx.session(Some(&key));
    check!(
        s.load().await?.is_empty(),
        "a 1240-character key loads nothing"
    );
    Ok(())
}

async fn hostile_keys_load_nothing(ctx: Ctx) -> CaseResult {
    let long = "a".repeat(5000);
    // A live session's key in capitals: MariaDB compares keys case-insensitively, so only a
    // check before the query keeps it from reading (or deleting) the real session.
    let live = saved(&ctx, &[("user", Value::from("ada"))]).await?;
    let upper = live.to_uppercase();
    let keys = [
        upper.as_str(),
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
        "unknownkey00000000000000",
        "short",
        long.as_str(),
        "ünïcödé12😀abcdef",
        "../../etc/passwd",
        "..\\..\\windows\\win.ini",
        "/etc/passwd/xx",
        "abc\0defghijk",
        "abc def ghijk",
        "a:b:c:d:e:f:g:h",
    ];
    for key in keys {
        check!(
            ctx.store.load(key).await?.is_none(),
            "load({key:?}) must find nothing"
        );
        // A key the engine would never generate is "no such session", not an error.
        match ctx.store.exists(key).await {
            Ok(false) => {}
            other => return Err(Failure(format!("exists({key:?}) = {other:?}"))),
        }
        if let Err(e) = ctx.store.delete(key).await {
            return Err(Failure(format!("delete({key:?}) failed: {e}")));
        }
        let mut s = ctx.session(Some(key));
        check!(s.data().await?.is_empty(), "session on {key:?} is empty");
        if !ctx.caps.data_in_cookie {
            check!(
                s.session_key().is_none(),
                "unknown key {key:?} is not reused"
            );
        }
    }
    if !ctx.caps.data_in_cookie {
        let mut s = ctx.session(Some(&live));
        check_eq!(
            s.get_value("user").await?,
            Some(Value::from("ada")),
            "the real session survives its uppercased key"
        );
    }
    Ok(())
}

// ---- Expiry --------------------------------------------------------------------------------

async fn default_expiry(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    check_eq!(s.get_expiry_age().await?, COOKIE_AGE, "default age");
    s.set_expiry(Expiry::BrowserClose).await?;
    check_eq!(
        s.get_expiry_age().await?,
        COOKIE_AGE,
        "age after set_expiry(0)"
    );
    Ok(())
}

async fn custom_expiry_seconds(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    let modification = ctx.clock.now();
    s.set_expiry(Expiry::Seconds(10)).await?;
    let expiry = s.stored_expiry().await?;
    let cfg = s.config().clone();
    check_eq!(
        cfg.policy.expiry_date(modification, expiry),
        modification + TimeDelta::seconds(10),
        "date"
    );
    check_eq!(cfg.policy.expiry_age(modification, expiry), 10, "age");
    Ok(())
}

async fn custom_expiry_timedelta(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    let now = ctx.clock.now();
    s.set_expiry(Expiry::After(TimeDelta::seconds(10))).await?;
    check_eq!(
        s.get_expiry_date().await?,
        now + TimeDelta::seconds(10),
        "date keeps microseconds"
    );
    check_eq!(s.get_expiry_age().await?, 10, "age");
    Ok(())
}

async fn custom_expiry_datetime(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    let at = ctx.clock.now() + TimeDelta::seconds(10);
    s.set_expiry(Expiry::At(at)).await?;
    check_eq!(s.get_expiry_date().await?, at, "date");
    check_eq!(s.get_expiry_age().await?, 10, "age");
    Ok(())
}

async fn custom_expiry_reset(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    s.set_expiry(Expiry::Default).await?;
    s.set_expiry(Expiry::Seconds(10)).await?;
    s.set_expiry(Expiry::Default).await?;
    check_eq!(s.get_expiry_age().await?, COOKIE_AGE, "back to default");
    Ok(())
}

async fn get_expire_at_browser_close(ctx: Ctx) -> CaseResult {
    for global in [false, true] {
        let mut config = ctx.config();
        config.policy.expire_at_browser_close = global;
        let mut s = session_core::Session::new(ctx.store.clone(), config, None);
        for (expiry, expected) in [
            (Expiry::Seconds(10), false),
            (Expiry::Seconds(0), true),
            (Expiry::Default, global),
        ] {
            s.set_expiry(expiry).await?;
            check_eq!(
                s.get_expire_at_browser_close().await?,
                expected,
                "global={global}, {expiry:?}"
            );
        }
    }
    Ok(())
}

async fn actual_expiry(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    s.insert_value("foo", "bar").await?;
    s.set_expiry(Expiry::After(TimeDelta::seconds(-10))).await?;
    s.save(false).await?;
    let key = s.session_key().unwrap_or_default().to_owned();
    let mut t = ctx.session(Some(&key));
    check!(
        !t.contains("foo").await?,
        "a session saved already expired must not load"
    );
    Ok(())
}

async fn expiry_boundaries(ctx: Ctx) -> CaseResult {
    let at = ctx.clock.now() + TimeDelta::seconds(2);
    let mut s = ctx.session(None);
    s.insert_value("k", "v").await?;
    s.set_expiry(Expiry::At(at)).await?;
    s.save(false).await?;
    let key = s.session_key().unwrap_or_default().to_owned();
    ctx.clock.advance_secs(1);
    check!(
        ctx.store.load(&key).await?.is_some(),
        "one second before expiry it loads"
    );
    ctx.clock.advance_secs(1);
    check!(
        ctx.store.load(&key).await?.is_none(),
        "at exactly the expiry instant it does not load"
    );
    ctx.clock.advance_secs(1);
    check!(
        ctx.store.load(&key).await?.is_none(),
        "one second after expiry it does not load"
    );
    Ok(())
}

async fn expiry_slides_on_save(ctx: Ctx) -> CaseResult {
    let key = saved(&ctx, &[("k", "v".into())]).await?;
    ctx.clock.advance_secs(COOKIE_AGE - 10);
    let mut s = ctx.session(Some(&key));
    s.insert_value("k", "w").await?;
    s.save(false).await?;
    ctx.clock.advance_secs(20);
    check!(
        ctx.store.load(&key).await?.is_some(),
        "a save moves the expiry forward"
    );
    Ok(())
}

async fn absolute_timeout_ends_a_session_however_active(ctx: Ctx) -> CaseResult {
    let mut config = ctx.config();
    config.policy.absolute_timeout = Some(3600);
    let session = |key: Option<&str>| Session::new(ctx.store.clone(), config.clone(), key);
    let mut s = session(None);
    s.insert_value("k", "v").await?;
    s.save(false).await?;
    let key = s.session_key().unwrap_or_default().to_owned();
    check!(
        s.get_expiry_age().await? <= 3600,
        "the cookie's and the record's age are capped by the absolute limit"
    );
    ctx.clock.advance_secs(1800);
    let mut active = session(Some(&key));
    check!(
        active.get_value("k").await?.is_some(),
        "alive half-way through"
    );
    active.insert_value("k", "w").await?;
    active.save(false).await?;
    check!(
        active.get_expiry_age().await? <= 1800,
        "activity does not extend it past the limit"
    );
    let latest = active.session_key().unwrap_or_default().to_owned();
    ctx.clock.advance_secs(1801);
    for k in [&key, &latest] {
        let mut late = session(Some(k));
        check!(
            late.get_value("k").await?.is_none(),
            "past the absolute limit the session is gone, however active it was"
        );
        if !ctx.caps.data_in_cookie {
            check!(late.session_key().is_none(), "its key is not reused");
            check!(
                ctx.store.load(k).await?.is_none(),
                "its record no longer loads (expired at the limit, or deleted)"
            );
        }
    }
    Ok(())
}

/// A session config with `SESSION_IDLE_TIMEOUT` (a touch once less than half remains).
fn idle_config(ctx: &Ctx, idle: i64) -> session_core::SessionConfig {
    let mut config = ctx.config();
    config.policy = config.policy.with_idle_timeout(idle);
    config
}

async fn idle_timeout_ends_an_idle_session(ctx: Ctx) -> CaseResult {
    let config = idle_config(&ctx, 600);
    let mut s = Session::new(ctx.store.clone(), config.clone(), None);
    s.insert_value("k", "v").await?;
    s.save(false).await?;
    check_eq!(
        s.get_expiry_age().await?,
        600,
        "the idle window caps the age"
    );
    let key = s.session_key().unwrap_or_default().to_owned();
    ctx.clock.advance_secs(599);
    let mut read = Session::new(ctx.store.clone(), config.clone(), Some(&key));
    check!(
        read.get_value("k").await?.is_some(),
        "alive within the window"
    );
    ctx.clock.advance_secs(2);
    let mut late = Session::new(ctx.store.clone(), config, Some(&key));
    check!(
        late.get_value("k").await?.is_none(),
        "gone after the idle window without a touch or a save (a read alone does not extend it)"
    );
    Ok(())
}

async fn idle_touch_is_throttled_and_keeps_an_active_session_alive(ctx: Ctx) -> CaseResult {
    let config = idle_config(&ctx, 600);
    let mut s = Session::new(ctx.store.clone(), config.clone(), None);
    s.insert_value("k", "v").await?;
    s.save(false).await?;
    let key = s.session_key().unwrap_or_default().to_owned();
    // An engine that does not report its records' expiry is touched on every read.
    let reports = matches!(ctx.store.load_with_expiry(&key).await?, Some((_, Some(_))));
    // (seconds to advance, whether the read touches, why)
    let steps = [
        (200, false, "400 s of 600 left: not yet"),
        (200, true, "200 s left: touched"),
        (50, false, "just touched: at most one touch per half window"),
        (
            450,
            true,
            "alive 900 s after the save thanks to the touch, and touched again",
        ),
    ];
    for (advance, touches, why) in steps {
        ctx.clock.advance_secs(advance);
        let mut r = Session::new(ctx.store.clone(), config.clone(), Some(&key));
        check_eq!(
            r.get_value("k").await?,
            Some(Value::from("v")),
            "{why}: data intact"
        );
        check_eq!(r.touch_if_due().await?, touches || !reports, "{why}");
    }
    ctx.clock.advance_secs(601);
    let mut late = Session::new(ctx.store.clone(), config, Some(&key));
    check!(
        late.get_value("k").await?.is_none(),
        "gone an idle window after the last touch"
    );
    Ok(())
}

async fn touch_extends_without_changing_data_and_never_revives(ctx: Ctx) -> CaseResult {
    let mut s = Session::new(ctx.store.clone(), idle_config(&ctx, 600), None);
    s.insert_value("k", "v").await?;
    s.save(false).await?;
    let key = s.session_key().unwrap_or_default().to_owned();
    // A longer window now: the stored expiry (~600 s away) is within its touch threshold.
    let longer = idle_config(&ctx, 1800);
    let mut r = Session::new(ctx.store.clone(), longer.clone(), Some(&key));
    check_eq!(r.get_value("k").await?, Some(Value::from("v")), "loaded");
    // (Engines that keep time by TTL report it against the real clock, not the case's; those
    // that judge expiry by their own settings report their own window.)
    check!(
        r.touch_due() || !ctx.caps.expiry_follows_clock || ctx.caps.expiry_by_own_settings,
        "due: about 600 of 1800 s left"
    );
    r.touch().await?;
    let touched = r.session_key().unwrap_or_default().to_owned();
    let mut again = Session::new(ctx.store.clone(), longer.clone(), Some(&touched));
    check_eq!(
        again.get_value("k").await?,
        Some(Value::from("v")),
        "data unchanged"
    );
    if !ctx.caps.expiry_by_own_settings {
        if let Some((_, Some(at))) = ctx.store.load_with_expiry(&touched).await? {
            // TTL engines count from the real clock or from the case's (cached_db's database).
            let left = |now: chrono::DateTime<chrono::Utc>| (at - now).num_seconds();
            let (case, real) = (left(ctx.clock.now()), left(chrono::Utc::now()));
            let full = |l: i64| (1700..=1800).contains(&l);
            check!(
                full(case) || (!ctx.caps.expiry_follows_clock && full(real)),
                "the new expiry is a full window away: {case} s"
            );
        }
    }
    let reports = matches!(
        ctx.store.load_with_expiry(&touched).await?,
        Some((_, Some(_)))
    );
    check!(
        !again.touch_due() || !reports || !ctx.caps.expiry_follows_clock,
        "freshly touched: not due"
    );
    if ctx.caps.data_in_cookie {
        return Ok(());
    }
    ctx.store.delete(&key).await?;
    check!(
        is_gone(r.touch().await),
        "a touch after a delete elsewhere is Gone"
    );
    check!(
        !ctx.store.exists(&key).await? && ctx.store.load(&key).await?.is_none(),
        "and does not bring the session back"
    );
    Ok(())
}

/// A session of `user` (as Django's login leaves it), saved; its key.
async fn logged_in(ctx: &Ctx, user: &str) -> Result<String, Failure> {
    saved(
        ctx,
        &[
            ("_auth_user_id", Value::from(user)),
            (
                "_auth_user_backend",
                Value::from("django.contrib.auth.backends.ModelBackend"),
            ),
        ],
    )
    .await
}

async fn sessions_of(ctx: &Ctx, user: &str) -> Result<Vec<String>, Failure> {
    ctx.store
        .sessions_of(user)
        .await?
        .ok_or_else(|| Failure("sessions_of is not supported".into()))
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn user_index_follows_login_cycle_and_delete(ctx: Ctx) -> CaseResult {
    let user = format!("u{}", &generate_key()[..8]);
    let a = logged_in(&ctx, &user).await?;
    let b = logged_in(&ctx, &user).await?;
    let other = logged_in(&ctx, "someone-else").await?;
    check_eq!(
        sessions_of(&ctx, &user).await?,
        sorted(vec![a.clone(), b.clone()]),
        "both logins listed"
    );
    // A key change (Django's login does one) moves the entry to the new key.
    let mut s = ctx.session(Some(&a));
    s.cycle_key().await?;
    let a2 = s.session_key().unwrap_or_default().to_owned();
    check_eq!(
        sessions_of(&ctx, &user).await?,
        sorted(vec![a2.clone(), b.clone()]),
        "cycled"
    );
    // A logout (flush) and a delete take the sessions out.
    let mut out = ctx.session(Some(&b));
    out.flush().await?;
    ctx.store.delete(&a2).await?;
    check_eq!(
        sessions_of(&ctx, &user).await?,
        Vec::<String>::new(),
        "none left"
    );
    check_eq!(
        sessions_of(&ctx, "someone-else").await?,
        vec![other],
        "others untouched"
    );
    Ok(())
}

async fn log_out_everywhere_ends_every_other_session(ctx: Ctx) -> CaseResult {
    let user = format!("u{}", &generate_key()[..8]);
    let here = logged_in(&ctx, &user).await?;
    let mut elsewhere = Vec::new();
    for _ in 0..3 {
        elsewhere.push(logged_in(&ctx, &user).await?);
    }
    let other = logged_in(&ctx, "someone-else").await?;
    let n = ctx.store.log_out_everywhere(&user, Some(&here)).await?;
    check_eq!(n, Some(3), "three sessions ended");
    for k in &elsewhere {
        check!(
            ctx.store.load(k).await?.is_none(),
            "a session elsewhere no longer loads"
        );
    }
    check!(
        ctx.store.load(&here).await?.is_some(),
        "the current session stays"
    );
    check!(
        ctx.store.load(&other).await?.is_some(),
        "another user's session stays"
    );
    check_eq!(
        sessions_of(&ctx, &user).await?,
        vec![here.clone()],
        "only the current one listed"
    );
    check_eq!(
        ctx.store.log_out_everywhere(&user, None).await?,
        Some(1),
        "then the last one"
    );
    check!(ctx.store.load(&here).await?.is_none(), "gone too");
    // A login after the log-out works as usual.
    let later = logged_in(&ctx, &user).await?;
    check!(
        ctx.store.load(&later).await?.is_some(),
        "a later login is not refused"
    );
    Ok(())
}

async fn user_index_shrinks_back_after_expiry(ctx: Ctx) -> CaseResult {
    let user = format!("u{}", &generate_key()[..8]);
    for _ in 0..3 {
        let mut s = ctx.session(None);
        s.insert_value("_auth_user_id", Value::from(user.as_str()))
            .await?;
        s.set_expiry(Expiry::Seconds(60)).await?;
        s.save(false).await?;
    }
    check_eq!(sessions_of(&ctx, &user).await?.len(), 3, "three indexed");
    ctx.clock.advance_secs(61);
    ctx.store.clear_expired().await?;
    check_eq!(
        sessions_of(&ctx, &user).await?,
        Vec::<String>::new(),
        "no entry outlives its session"
    );
    Ok(())
}

async fn log_out_everywhere_racing_logins(ctx: Ctx) -> CaseResult {
    let user = format!("u{}", &generate_key()[..8]);
    let mut before = Vec::new();
    for _ in 0..5 {
        before.push(logged_in(&ctx, &user).await?);
    }
    let logins = {
        let ctx = ctx.clone();
        let user = user.clone();
        tokio::spawn(async move {
            let mut keys = Vec::new();
            for _ in 0..5 {
                keys.push(logged_in(&ctx, &user).await?);
            }
            Ok::<_, Failure>(keys)
        })
    };
    ctx.store.log_out_everywhere(&user, None).await?;
    let during = logins
        .await
        .map_err(|e| Failure(format!("login task: {e}")))??;
    for k in &before {
        check!(
            ctx.store.load(k).await?.is_none(),
            "every session made before the log-out is gone"
        );
    }
    // The logins racing it either survived (and are listed) or were ended; none is a live
    // session the index does not list.
    let listed = sessions_of(&ctx, &user).await?;
    for k in &during {
        let live = ctx.store.load(k).await?.is_some();
        check_eq!(
            live,
            listed.contains(k),
            "a racing login is listed exactly when it lives"
        );
    }
    Ok(())
}

async fn clear_expired(ctx: Ctx) -> CaseResult {
    let mut live = ctx.session(None);
    live.set_expiry(Expiry::Seconds(3600)).await?;
    live.save(false).await?;
    let mut dead = ctx.session(None);
    dead.set_expiry(Expiry::Seconds(-3600)).await?;
    dead.save(false).await?;
    let removed = ctx.store.clear_expired().await?;
    check_eq!(removed, Some(1), "one expired record removed");
    let live_key = live.session_key().unwrap_or_default();
    let dead_key = dead.session_key().unwrap_or_default();
    check!(ctx.store.exists(live_key).await?, "the live session stays");
    check!(
        !ctx.store.exists(dead_key).await?,
        "the expired session is gone"
    );
    check_eq!(
        ctx.store.clear_expired().await?,
        Some(0),
        "nothing left to clear"
    );
    Ok(())
}

// ---- Fixation and resurrection safety ------------------------------------------------------

async fn session_load_does_not_create_record(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(Some("someunknownkey"));
    s.load().await?;
    check_eq!(s.session_key(), None, "unknown key dropped");
    check!(
        !ctx.store.exists("someunknownkey").await?,
        "no record was created"
    );
    s.insert_value("x", 1).await?;
    s.save(false).await?;
    check!(
        s.session_key() != Some("someunknownkey"),
        "the unknown key is not reused"
    );
    Ok(())
}

async fn save_does_not_resurrect_session_deleted_elsewhere(ctx: Ctx) -> CaseResult {
    let mut s1 = ctx.session(None);
    s1.insert_value("logged_in", true).await?;
    s1.create().await?;
    let key = s1.session_key().unwrap_or_default().to_owned();
    let mut s2 = ctx.session(Some(&key));
    s2.delete(None).await?;
    s1.insert_value("modified", true).await?;
    check!(
        is_gone(s1.save(false).await),
        "save after a concurrent delete must fail with Gone"
    );
    check!(s1.load().await?.is_empty(), "the session stays deleted");
    check!(!ctx.store.exists(&key).await?, "no record came back");
    Ok(())
}

async fn store_save_of_missing_record_is_gone(ctx: Ctx) -> CaseResult {
    let data = std::sync::Arc::new(Map::new());
    let key = generate_key();
    let record = Record {
        key: &key,
        data: &data,
        expires_at: ctx.clock.now() + TimeDelta::seconds(60),
        max_age: 60,
    };
    check!(
        matches!(ctx.store.save(&record).await, Err(Error::Gone)),
        "save of an unknown key is Gone"
    );
    check!(!ctx.store.exists(&key).await?, "and creates nothing");
    Ok(())
}

async fn create_collision_never_overwrites(ctx: Ctx) -> CaseResult {
    let key = saved(&ctx, &[("owner", "first".into())]).await?;
    let mut other = Map::new();
    other.insert("owner".into(), "second".into());
    let other = std::sync::Arc::new(other);
    let record = Record {
        key: &key,
        data: &other,
        expires_at: ctx.clock.now() + TimeDelta::seconds(60),
        max_age: 60,
    };
    check!(
        matches!(ctx.store.create(&record).await, Err(Error::Duplicate)),
        "create on a taken key is Duplicate"
    );
    let stored = ctx.store.load(&key).await?.unwrap_or_default();
    check_eq!(
        stored.get("owner"),
        Some(&Value::from("first")),
        "the first session is untouched"
    );
    Ok(())
}

async fn must_create_on_taken_key_is_duplicate(ctx: Ctx) -> CaseResult {
    let key = saved(&ctx, &[("owner", "first".into())]).await?;
    let mut s = ctx.session(Some(&key));
    s.clear();
    s.insert_value("owner", "intruder").await?;
    check!(
        matches!(s.save(true).await, Err(Error::Duplicate)),
        "save(must_create) on a taken key"
    );
    check_eq!(
        ctx.store.load(&key).await?.unwrap_or_default().get("owner"),
        Some(&Value::from("first")),
        "untouched"
    );
    Ok(())
}

// ---- Payloads ------------------------------------------------------------------------------

async fn large_payload(ctx: Ctx) -> CaseResult {
    let big: String = (0u32..(1 << 20) + 1000)
        .map(|i| char::from(b'a' + u8::try_from(i * 7 % 26).unwrap_or(0)))
        .collect();
    let key = saved(&ctx, &[("big", Value::from(big.clone()))]).await?;
    let mut s = ctx.session(Some(&key));
    check!(
        s.get_value("big").await? == Some(Value::from(big)),
        "a 1 MiB value round-trips"
    );
    Ok(())
}

async fn oversized_session_is_refused_and_the_stored_one_kept(ctx: Ctx) -> CaseResult {
    let Some(limit) = ctx.caps.max_session_bytes else {
        return Ok(());
    };
    let key = saved(&ctx, &[("small", Value::from("kept"))]).await?;
    let mut s = ctx.session(Some(&key));
    // Pseudo-random letters (xorshift), twice the limit: compression (≈ 4.7 bits a letter)
    // cannot bring it under the limit.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let big: String = (0..2 * limit + 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + u8::try_from(x % 26).unwrap_or(0))
        })
        .collect();
    s.insert_value("big", Value::from(big)).await?;
    match s.save(false).await {
        Err(Error::TooLarge { size, limit: l }) => {
            check!(
                size > l,
                "TooLarge reports a size over its limit ({size} vs {l})"
            )
        }
        other => return Err(Failure(format!("expected TooLarge, got {other:?}"))),
    }
    let mut again = ctx.session(Some(&key));
    check_eq!(
        again.get_value("small").await?,
        Some(Value::from("kept")),
        "the stored session survives a refused oversized save"
    );
    Ok(())
}

async fn unicode_payload(ctx: Ctx) -> CaseResult {
    let text = "é ß ☃ € 日本語 😀👍🏽 𝕏 \u{2028} \0 \"quotes\" \\ </script>";
    let mut nested = Map::new();
    nested.insert(
        "ключ 🔑".into(),
        Value::from(vec![Value::from(text), Value::Null, Value::from(f64::NAN)]),
    );
    let key = saved(
        &ctx,
        &[
            ("t", text.into()),
            ("n", Value::Object(nested.clone())),
            ("big", Value::from(i128::MAX)),
        ],
    )
    .await?;
    let mut s = ctx.session(Some(&key));
    check_eq!(
        s.get_value("t").await?,
        Some(Value::from(text)),
        "Unicode and non-BMP text"
    );
    let n = s.get_value("n").await?.unwrap_or_default();
    check_eq!(
        n.to_python_json(),
        Value::Object(nested).to_python_json(),
        "nested with NaN"
    );
    check_eq!(
        s.get_value("big").await?,
        Some(Value::from(i128::MAX)),
        "integer beyond 64 bits"
    );
    Ok(())
}

// ---- Concurrency ---------------------------------------------------------------------------

async fn many_writers_no_lost_write(ctx: Ctx) -> CaseResult {
    let mut tasks = Vec::new();
    for t in 0..8 {
        let ctx = ctx.clone();
        tasks.push(tokio::spawn(async move {
            let mut keys = Vec::new();
            for i in 0..25 {
                let mut s = ctx.session(None);
                s.insert_value("task", t).await?;
                s.insert_value("i", i).await?;
                s.save(false).await?;
                keys.push((t, i, s.session_key().unwrap_or_default().to_owned()));
            }
            Ok::<_, Error>(keys)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        match task.await {
            Ok(r) => all.extend(r?),
            Err(e) => return Err(Failure(format!("writer task failed: {e}"))),
        }
    }
    check_eq!(all.len(), 200, "acknowledged writes");
    for (t, i, key) in all {
        let got = ctx.store.load(&key).await?;
        let ok = got.as_ref().is_some_and(|m| {
            m.get("task") == Some(&Value::from(t)) && m.get("i") == Some(&Value::from(i))
        });
        check!(ok, "acknowledged write {t}/{i} lost or mixed up");
    }
    Ok(())
}

async fn concurrent_writers_last_wins(ctx: Ctx) -> CaseResult {
    let key = saved(&ctx, &[("base", 0.into())]).await?;
    let mut a = ctx.session(Some(&key));
    let mut b = ctx.session(Some(&key));
    a.data().await?;
    b.data().await?;
    a.insert_value("writer", "a").await?;
    b.insert_value("writer", "b").await?;
    b.insert_value("only_b", true).await?;
    let (ra, rb) = tokio::join!(a.save(false), b.save(false));
    ra?;
    rb?;
    let stored = ctx.store.load(&key).await?.unwrap_or_default();
    let writer = stored
        .get("writer")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    // Documented outcome for every engine: last writer wins, whole sessions, never a mix.
    let consistent = (writer == "a" && !stored.contains_key("only_b"))
        || (writer == "b" && stored.contains_key("only_b"));
    check!(
        consistent,
        "the stored session is exactly one writer's version"
    );
    Ok(())
}

async fn cycle_and_flush_while_reading(ctx: Ctx) -> CaseResult {
    let key = saved(&ctx, &[("user", "ada".into())]).await?;
    let reader_store = ctx.store.clone();
    let reader_key = key.clone();
    let reader = tokio::spawn(async move {
        for _ in 0..50 {
            match reader_store.load(&reader_key).await? {
                None => {}
                Some(m) if m.get("user") == Some(&Value::from("ada")) => {}
                Some(_) => return Ok::<bool, Error>(false),
            }
            tokio::task::yield_now().await;
        }
        Ok(true)
    });
    let mut s = ctx.session(Some(&key));
    s.cycle_key().await?;
    let new_key = s.session_key().unwrap_or_default().to_owned();
    check!(
        ctx.store.load(&key).await?.is_none(),
        "old key gone after cycle_key"
    );
    check!(
        ctx.store.load(&new_key).await?.is_some(),
        "data under the new key"
    );
    s.flush().await?;
    check!(ctx.store.load(&new_key).await?.is_none(), "flushed");
    match reader.await {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err(Failure("a reader saw a partial session".into())),
        Ok(Err(e)) => Err(e.into()),
        Err(e) => Err(Failure(format!("reader failed: {e}"))),
    }
}

// ---- Data in the cookie ------------------------------------------------------------------

async fn rejected_cookie_is_reissued(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(Some(
        "eyJ4IjoxfQ:1vbVSP:forgedforgedforgedforgedforgedforgedforged",
    ));
    check!(
        s.data().await?.is_empty(),
        "a forged cookie gives an empty session"
    );
    check!(
        s.modified(),
        "the store is marked modified so a fresh cookie replaces it"
    );
    check!(
        !s.is_empty(),
        "the key is kept, so the middleware re-issues rather than deletes"
    );
    s.save(false).await?;
    let value = s.session_key().unwrap_or_default().to_owned();
    check!(
        ctx.store.load(&value).await?.is_some_and(|m| m.is_empty()),
        "the reissued cookie holds {{}}"
    );
    Ok(())
}

async fn cookie_value_carries_the_data(ctx: Ctx) -> CaseResult {
    let key = saved(&ctx, &[("cart", Value::from(vec![1, 2, 3]))]).await?;
    let got = ctx.store.load(&key).await?.unwrap_or_default();
    check_eq!(
        got.get("cart"),
        Some(&Value::from(vec![1, 2, 3])),
        "data read back from the cookie value"
    );
    check!(
        !ctx.store.exists(&key).await?,
        "exists is always false: nothing is stored server-side"
    );
    Ok(())
}

macro_rules! table {
    ($($name:ident $(: $($need:ident),+)?;)*) => {
        /// Every case, in the order they run.
        pub static CASES: &[Case] = &[$(Case {
            name: stringify!($name),
            needs: &[$($(Needs::$need),+)?],
            run: |ctx| Box::pin($name(ctx)),
        }),*];
    };
}

table! {
    new_session;
    get_empty;
    store;
    pop;
    pop_default;
    pop_no_default_reports_missing;
    setdefault;
    update;
    has_key;
    values;
    keys;
    items;
    clear;
    test_cookie;
    is_empty;
    save: ServerSide;
    delete;
    flush: ServerSide;
    cycle: ServerSide;
    cycle_with_no_session_cache;
    save_doesnt_clear_data;
    unsaved_changes_never_reach_the_store: ServerSide;
    create_and_save;
    decode_round_trip;
    invalid_key;
    session_key_empty_string_invalid;
    session_key_too_short_invalid;
    session_key_valid_string_saved;
    load_overlong_key;
    hostile_keys_load_nothing;
    default_expiry;
    custom_expiry_seconds;
    custom_expiry_timedelta;
    custom_expiry_datetime;
    custom_expiry_reset;
    get_expire_at_browser_close;
    actual_expiry: Expiry;
    expiry_boundaries: Expiry, ClockExpiry;
    expiry_slides_on_save: ServerSide, Expiry, ClockExpiry;
    absolute_timeout_ends_a_session_however_active;
    idle_timeout_ends_an_idle_session: Expiry, ClockExpiry, StoredExpiry;
    idle_touch_is_throttled_and_keeps_an_active_session_alive: Expiry, ClockExpiry, StoredExpiry;
    touch_extends_without_changing_data_and_never_revives;
    user_index_follows_login_cycle_and_delete: UserIndex, ServerSide;
    log_out_everywhere_ends_every_other_session: UserIndex, ServerSide;
    user_index_shrinks_back_after_expiry: UserIndex, ServerSide, ClockExpiry, ClearExpired;
    log_out_everywhere_racing_logins: UserIndex, ServerSide;
    clear_expired: ServerSide, ClearExpired, ClockExpiry;
    session_load_does_not_create_record: ServerSide;
    save_does_not_resurrect_session_deleted_elsewhere: ServerSide;
    store_save_of_missing_record_is_gone: ServerSide;
    create_collision_never_overwrites: ServerSide;
    must_create_on_taken_key_is_duplicate: ServerSide;
    large_payload: LargeSessions;
    oversized_session_is_refused_and_the_stored_one_kept: Bounded;
    unicode_payload;
    many_writers_no_lost_write;
    concurrent_writers_last_wins: ServerSide;
    cycle_and_flush_while_reading: ServerSide;
    rejected_cookie_is_reissued: DataInCookie;
    cookie_value_carries_the_data: DataInCookie;
}
