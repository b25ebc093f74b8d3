//! Presence actors on a paused tokio clock: expiry, keep-alive, idle, coalescing,
//! transitions only, delivery to group watchers through the hub, no flap on
//! reconnect, and the actor's end.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use talko_control::live::{
    Audience, Availability, BoxFuture, CallRole, Hub, LiveMessage, Presence, PresenceConfig,
    PresenceHandle, PresenceState, Status, Subscription,
};
use tokio::time::sleep;
use uuid::Uuid;

/// Group memberships as the store would give them.
struct Groups(HashMap<Uuid, Vec<Uuid>>);

impl Audience for Groups {
    fn watchers(&self, account: Uuid) -> BoxFuture<'_, Vec<Uuid>> {
        let watchers = self.0.get(&account).cloned().unwrap_or_default();
        Box::pin(async move { watchers })
    }
}

struct World {
    hub: Hub,
    presence: PresenceHandle,
    alice: Uuid,
    device: Uuid,
    /// Bob watches Alice (they share a group).
    bob: Subscription,
}

fn world() -> World {
    let hub = Hub::default();
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let audience = Groups(HashMap::from([(alice, vec![bob])]));
    let presence = Presence::spawn(PresenceConfig::default(), hub.clone(), Arc::new(audience));
    let bob = hub.connect(bob, Uuid::new_v4());
    World {
        hub,
        presence,
        alice,
        device: Uuid::new_v4(),
        bob,
    }
}

/// Every presence message queued for `sub`, as (account, state).
fn drain(sub: &mut Subscription) -> Vec<(Uuid, PresenceState)> {
    let mut out = Vec::new();
    while let Some(message) = sub.try_recv() {
        match message {
            LiveMessage::Presence { account, state } => out.push((account, state)),
            other => panic!("unexpected {other:?}"),
        }
    }
    out
}

fn online(availability: Status) -> PresenceState {
    PresenceState {
        online: true,
        availability,
        call: CallRole::None,
    }
}

const SEC: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn presence_expires_45_s_after_the_last_heartbeat() {
    let mut w = world();
    w.presence.heartbeat(w.alice, w.device).await;
    sleep(SEC).await;
    assert_eq!(drain(&mut w.bob), [(w.alice, online(Status::Available))]);

    sleep(Duration::from_secs(43)).await; // t = 44 s
    assert!(w.presence.get(w.alice).await.online);
    assert!(drain(&mut w.bob).is_empty());

    sleep(Duration::from_millis(1500)).await; // t = 45.5 s: expired, coalescing
    assert_eq!(w.presence.get(w.alice).await, PresenceState::OFFLINE);
    sleep(SEC).await;
    assert_eq!(drain(&mut w.bob), [(w.alice, PresenceState::OFFLINE)]);
}

#[tokio::test(start_paused = true)]
async fn heartbeats_keep_the_account_online_without_repeats() {
    let mut w = world();
    for _ in 0..8 {
        w.presence.heartbeat(w.alice, w.device).await;
        sleep(Duration::from_secs(30)).await;
    }
    // Four minutes of heartbeats: online throughout, announced once.
    assert!(w.presence.get(w.alice).await.online);
    assert_eq!(drain(&mut w.bob), [(w.alice, online(Status::Available))]);
}

#[tokio::test(start_paused = true)]
async fn idle_after_five_minutes_without_user_activity() {
    let mut w = world();
    w.presence.connected(w.alice, w.device).await;
    // Heartbeats keep the connection, but are not user activity.
    for _ in 0..9 {
        sleep(Duration::from_secs(30)).await;
        w.presence.heartbeat(w.alice, w.device).await;
    }
    sleep(Duration::from_secs(29)).await; // t = 4 min 59 s
    assert_eq!(
        w.presence.get(w.alice).await.availability,
        Status::Available
    );
    sleep(Duration::from_millis(1500)).await; // t = 5 min 0.5 s
    assert_eq!(w.presence.get(w.alice).await.availability, Status::Idle);
    w.presence.heartbeat(w.alice, w.device).await;
    sleep(SEC).await;
    assert_eq!(
        drain(&mut w.bob),
        [
            (w.alice, online(Status::Available)),
            (w.alice, online(Status::Idle))
        ]
    );
    // Activity ends idleness.
    w.presence.activity(w.alice, w.device).await;
    sleep(SEC).await;
    assert_eq!(drain(&mut w.bob), [(w.alice, online(Status::Available))]);
    // A chosen `busy` is not overridden by idleness.
    w.presence
        .set_availability(w.alice, Availability::Busy)
        .await;
    for _ in 0..12 {
        sleep(Duration::from_secs(30)).await;
        w.presence.heartbeat(w.alice, w.device).await;
    }
    assert_eq!(w.presence.get(w.alice).await.availability, Status::Busy);
    assert_eq!(drain(&mut w.bob), [(w.alice, online(Status::Busy))]);
}

#[tokio::test(start_paused = true)]
async fn changes_within_the_window_are_coalesced_into_the_final_state() {
    let mut w = world();
    w.presence.heartbeat(w.alice, w.device).await;
    sleep(SEC).await;
    drain(&mut w.bob);

    // Three changes within 250 ms: one message, the final state.
    w.presence
        .set_availability(w.alice, Availability::Busy)
        .await;
    sleep(Duration::from_millis(50)).await;
    w.presence
        .set_availability(w.alice, Availability::Away)
        .await;
    sleep(Duration::from_millis(50)).await;
    w.presence
        .set_call_role(w.alice, CallRole::Talking { call: w.device })
        .await;
    sleep(SEC).await;
    let talking_away = PresenceState {
        online: true,
        availability: Status::Away,
        call: CallRole::Talking { call: w.device },
    };
    assert_eq!(drain(&mut w.bob), [(w.alice, talking_away)]);

    // A change undone within the window is no transition at all.
    w.presence
        .set_call_role(w.alice, CallRole::InCall { call: w.device })
        .await;
    sleep(Duration::from_millis(100)).await;
    w.presence
        .set_call_role(w.alice, CallRole::Talking { call: w.device })
        .await;
    sleep(SEC).await;
    assert!(drain(&mut w.bob).is_empty());
}

#[tokio::test(start_paused = true)]
async fn only_transitions_are_published() {
    let mut w = world();
    for _ in 0..3 {
        w.presence
            .set_availability(w.alice, Availability::Busy)
            .await;
        sleep(SEC).await;
    }
    w.presence.heartbeat(w.alice, w.device).await;
    sleep(SEC).await;
    assert_eq!(drain(&mut w.bob), [(w.alice, online(Status::Busy))]);
}

#[tokio::test(start_paused = true)]
async fn group_watchers_receive_transitions_through_the_hub_and_others_do_not() {
    let hub = Hub::default();
    let (alice, bob, carol, stranger) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    let audience = Groups(HashMap::from([(alice, vec![bob, carol])]));
    let presence = Presence::spawn(PresenceConfig::default(), hub.clone(), Arc::new(audience));
    let mut bob_phone = hub.connect(bob, Uuid::new_v4());
    let mut bob_laptop = hub.connect(bob, Uuid::new_v4());
    let mut carol_phone = hub.connect(carol, Uuid::new_v4());
    let mut strangers = hub.connect(stranger, Uuid::new_v4());

    let call = Uuid::new_v4();
    presence
        .set_call_role(alice, CallRole::ListeningLive { call })
        .await;
    sleep(SEC).await;
    let expected = [(
        alice,
        PresenceState {
            online: true,
            availability: Status::Available,
            call: CallRole::ListeningLive { call },
        },
    )];
    assert_eq!(drain(&mut bob_phone), expected);
    assert_eq!(drain(&mut bob_laptop), expected);
    assert_eq!(drain(&mut carol_phone), expected);
    assert!(drain(&mut strangers).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_device_reconnect_does_not_flap_offline() {
    let mut w = world();
    w.presence.connected(w.alice, w.device).await;
    sleep(SEC).await;
    // The connection drops and comes back two seconds later (a network change).
    w.presence.disconnected(w.alice, w.device).await;
    sleep(2 * SEC).await;
    w.presence.connected(w.alice, w.device).await;
    sleep(Duration::from_secs(20)).await;
    assert_eq!(drain(&mut w.bob), [(w.alice, online(Status::Available))]);

    // Two devices: one leaving changes nothing.
    let tablet = Uuid::new_v4();
    w.presence.connected(w.alice, tablet).await;
    w.presence.disconnected(w.alice, tablet).await;
    sleep(Duration::from_secs(20)).await;
    w.presence.heartbeat(w.alice, w.device).await;
    sleep(Duration::from_secs(20)).await;
    assert!(w.presence.get(w.alice).await.online);
    assert!(drain(&mut w.bob).is_empty());

    // The last device leaving for good: offline after the grace period, not 45 s.
    w.presence.disconnected(w.alice, w.device).await;
    sleep(Duration::from_secs(9)).await;
    assert!(w.presence.get(w.alice).await.online);
    sleep(Duration::from_secs(2)).await;
    assert_eq!(w.presence.get(w.alice).await, PresenceState::OFFLINE);
}

#[tokio::test(start_paused = true)]
async fn the_actor_ends_when_the_account_goes_offline_and_comes_back_on_life() {
    let mut w = world();
    assert!(!w.presence.is_running(w.alice));
    w.presence.heartbeat(w.alice, w.device).await;
    assert!(w.presence.is_running(w.alice));
    assert_eq!(w.presence.actors(), 1);
    sleep(Duration::from_secs(46)).await;
    assert!(!w.presence.is_running(w.alice));
    assert_eq!(w.presence.actors(), 0);
    assert_eq!(
        drain(&mut w.bob),
        [
            (w.alice, online(Status::Available)),
            (w.alice, PresenceState::OFFLINE)
        ]
    );
    // A new sign of life spawns a fresh actor; availability starts over.
    w.presence.heartbeat(w.alice, w.device).await;
    sleep(SEC).await;
    assert!(w.presence.is_running(w.alice));
    assert_eq!(drain(&mut w.bob), [(w.alice, online(Status::Available))]);
    drop(w.hub);
}

#[tokio::test(start_paused = true)]
async fn a_call_role_keeps_the_account_online_until_the_call_ends() {
    let mut w = world();
    let call = Uuid::new_v4();
    w.presence
        .set_call_role(w.alice, CallRole::InCall { call })
        .await;
    sleep(Duration::from_secs(120)).await;
    let state = w.presence.get(w.alice).await;
    assert!(state.online);
    assert_eq!(state.call, CallRole::InCall { call });
    w.presence.set_call_role(w.alice, CallRole::None).await;
    sleep(Duration::from_secs(44)).await;
    assert!(w.presence.get(w.alice).await.online);
    sleep(Duration::from_secs(2)).await;
    assert!(!w.presence.is_running(w.alice));
    let states: Vec<_> = drain(&mut w.bob).into_iter().map(|(_, s)| s).collect();
    assert_eq!(
        states,
        [
            PresenceState {
                online: true,
                availability: Status::Available,
                call: CallRole::InCall { call }
            },
            online(Status::Available),
            PresenceState::OFFLINE,
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn queries_and_disconnects_of_offline_accounts_spawn_nothing() {
    let w = world();
    assert_eq!(w.presence.get(w.alice).await, PresenceState::OFFLINE);
    w.presence.disconnected(w.alice, w.device).await;
    w.presence.set_call_role(w.alice, CallRole::None).await;
    assert_eq!(w.presence.actors(), 0);
}

#[tokio::test(start_paused = true)]
async fn talking_in_a_call_is_never_idle() {
    let mut w = world();
    let call = Uuid::new_v4();
    w.presence
        .set_call_role(w.alice, CallRole::Talking { call })
        .await;
    sleep(Duration::from_secs(10 * 60)).await;
    let state = w.presence.get(w.alice).await;
    assert_eq!(state.availability, Status::Available);
    // Only listening after that: idle five minutes later.
    w.presence
        .set_call_role(w.alice, CallRole::InCall { call })
        .await;
    sleep(Duration::from_secs(299)).await;
    assert_eq!(
        w.presence.get(w.alice).await.availability,
        Status::Available
    );
    sleep(Duration::from_secs(2)).await;
    assert_eq!(w.presence.get(w.alice).await.availability, Status::Idle);
    let states: Vec<_> = drain(&mut w.bob)
        .into_iter()
        .map(|(_, s)| s.availability)
        .collect();
    assert_eq!(states, [Status::Available, Status::Available, Status::Idle]);
}

/// An audience whose store never answers.
struct Stuck;

impl Audience for Stuck {
    fn watchers(&self, _account: Uuid) -> BoxFuture<'_, Vec<Uuid>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test(start_paused = true)]
async fn a_stuck_audience_lookup_does_not_stall_the_actor() {
    let presence = Presence::spawn(PresenceConfig::default(), Hub::default(), Arc::new(Stuck));
    let (alice, device) = (Uuid::new_v4(), Uuid::new_v4());
    presence.heartbeat(alice, device).await;
    sleep(Duration::from_secs(6)).await;
    presence.set_availability(alice, Availability::Away).await;
    let state = tokio::time::timeout(Duration::from_secs(1), presence.get(alice))
        .await
        .expect("the actor answers");
    assert_eq!(state.availability, Status::Away);
}
