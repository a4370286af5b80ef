//! The page shell every dashboard page shares: head, top bar, footer, and
//! the error page.

use axum::http::StatusCode;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use slod_core::time::Timestamp;

use super::format;
use super::session::{csrf_field, Viewer};

/// Which top-bar entry is the current page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    NewObjective,
    None,
}

/// Refreshes a page's numbers while it is open: on each status, streak or
/// achievement event from the live stream (`/api/v1/events/stream`), it
/// fetches the page again (at most every 1.5 s) and swaps in the new
/// `<main>` and footer. Optional by design: without JavaScript, or without
/// the stream, the page is simply as fresh as its last load. It subscribes
/// only after the page has loaded, and closes the stream when the page
/// goes, so it never holds up a load or a navigation.
const LIVE_SCRIPT: &str = r#"<script>addEventListener("load",()=>setTimeout(()=>{if(!window.EventSource||!window.fetch)return;let t;const k=["slo.status.changed","slo.achievement.unlocked","slo.streak.broken"];const es=new EventSource("/api/v1/events/stream?types="+k.join(","));addEventListener("pagehide",()=>es.close());const swap=async()=>{try{const r=await fetch(location.href,{headers:{accept:"text/html"}});if(!r.ok)return;const d=new DOMParser().parseFromString(await r.text(),"text/html");for(const s of["main",".foot"]){const n=d.querySelector(s),o=document.querySelector(s);if(n&&o)o.replaceChildren(...n.childNodes)}}catch(e){}};k.forEach(e=>es.addEventListener(e,()=>{clearTimeout(t);t=setTimeout(swap,1500)}))},100));</script>"#;

/// A page that keeps its numbers fresh from the event stream (overview,
/// objective and system pages; never a form, which would lose its input).
pub fn live_page(
    title: &str,
    nav: Nav,
    now: Option<Timestamp>,
    viewer: &Viewer,
    body: Markup,
) -> Markup {
    shell(title, nav, now, viewer, body, true)
}

/// A whole page: `title` goes to `<title>` (with " · slod"), `body` into
/// `<main>`. `now` is the instant the page was computed at, shown in the
/// footer so a reader knows how fresh the numbers are. `viewer` decides
/// whether the top bar offers editing and a logout button.
pub fn page(
    title: &str,
    nav: Nav,
    now: Option<Timestamp>,
    viewer: &Viewer,
    body: Markup,
) -> Markup {
    shell(title, nav, now, viewer, body, false)
}

fn shell(
    title: &str,
    nav: Nav,
    now: Option<Timestamp>,
    viewer: &Viewer,
    body: Markup,
    live: bool,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · slod" }
                link rel="stylesheet" href={ "/static/slod.css?v=" (super::stylesheet_version()) };
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { span aria-hidden="true" { "◎" } " slod" }
                    nav aria-label="Main" {
                        a href="/" aria-current=[(nav == Nav::Overview).then_some("page")] { "Overview" }
                        @if viewer.can_edit {
                            a href="/objectives/new"
                                aria-current=[(nav == Nav::NewObjective).then_some("page")] { "New objective" }
                        }
                    }
                    @if let Some(session) = &viewer.session {
                        form.logout method="post" action="/logout" {
                            span.muted { (session.token_name) " (" (session.scope) ")" } " "
                            (csrf_field(viewer))
                            button.button type="submit" { "Log out" }
                        }
                    }
                }
                main #main { (body) }
                footer.foot {
                    @if let Some(now) = now {
                        "Computed at " time datetime=(now.to_rfc3339()) { (format::utc(now)) } ". "
                    }
                    "All times UTC. "
                    a href="/api/v1/objectives" { "JSON API" }
                }
                @if live { (PreEscaped(LIVE_SCRIPT)) }
            }
        }
    }
}

/// The page for a 4xx/5xx: what went wrong and a way back.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Markup {
    page(
        title,
        Nav::None,
        None,
        &Viewer::anonymous(),
        html! {
            section.empty {
                h1 { (title) }
                p { (message) }
                p.muted { "HTTP " (status.as_u16()) }
                p { a.button href="/" { "Back to the overview" } }
            }
        },
    )
}
