//! Group commit for text posts, the hottest write: one writer task takes every text post
//! waiting at that moment (up to `MAX_BATCH`) and stores them in one transaction with
//! multi-row inserts — idempotency keys first (`ON CONFLICT DO NOTHING RETURNING` tells
//! which requests are new), then items, tags and notifications. A handful of round trips
//! to the database serve the whole batch instead of several per post.
//!
//! Owns: the batching writer task. Must never: let one bad post fail its neighbours (a
//! failed batch is retried one post at a time), answer before the commit, or store an item
//! whose idempotency key was already taken.

use std::collections::HashSet;

use serde_json::Value;
use sqlx::AnyConnection;
use tokio::sync::{mpsc, oneshot};

use crate::error::{ApiError, ApiResult};
use crate::notifications::{self, NewNotification, Written};
use crate::store::{new_id, now_ms, Store};
use crate::timeline::ItemRow;
use crate::validate;

/// Most posts stored in one transaction.
pub const MAX_BATCH: usize = 64;

/// One text post to store.
#[derive(Debug)]
pub struct TextJob {
    /// Group id.
    pub group: String,
    /// Author id.
    pub author: String,
    /// Validated text.
    pub text: String,
    /// Member ids of the group (to notify).
    pub members: Vec<String>,
    /// `(key, route, fingerprint)` when the request carried an `Idempotency-Key`.
    pub idem: Option<(String, String, String)>,
}

/// What became of a post.
#[derive(Debug)]
pub enum JobOutcome {
    /// Stored: the 201 body and the notifications to publish.
    Created {
        /// The item JSON.
        body: Value,
        /// Notifications written with it.
        notify: Vec<Written>,
    },
    /// The idempotency key was already recorded: replay the stored response.
    KeyTaken,
}

type Reply = oneshot::Sender<Result<JobOutcome, String>>;

/// Handle to the writer task.
#[derive(Clone, Debug)]
pub struct TextWriter {
    tx: mpsc::Sender<(TextJob, Reply)>,
}

impl TextWriter {
    /// Starts the writer task on `store` (inside a tokio runtime).
    pub fn spawn(store: Store) -> TextWriter {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(store, rx));
        TextWriter { tx }
    }

    /// Stores `job` with whatever else is waiting; answers after the commit.
    pub async fn submit(&self, job: TextJob) -> ApiResult<JobOutcome> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((job, reply))
            .await
            .map_err(|_| ApiError::internal("text writer stopped"))?;
        answer
            .await
            .map_err(|_| ApiError::internal("text writer dropped a post"))?
            .map_err(ApiError::internal)
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<(TextJob, Reply)>) {
    let mut batch: Vec<(TextJob, Reply)> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let (jobs, replies): (Vec<TextJob>, Vec<Reply>) =
            std::mem::take(&mut batch).into_iter().unzip();
        match write(&store, &jobs).await {
            Ok(outcomes) => {
                for (reply, o) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(o));
                }
            }
            Err(e) if jobs.len() > 1 => {
                tracing::warn!(error = %e, posts = jobs.len(), "text batch failed; retrying one by one");
                for (job, reply) in jobs.into_iter().zip(replies) {
                    let one = [job];
                    let r = write(&store, &one)
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|mut o| o.pop().ok_or_else(|| "empty batch result".to_owned()));
                    let _ = reply.send(r);
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

fn placeholders(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells: Vec<String> = (1..=cols).map(|c| format!("${}", r * cols + c)).collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

struct Prepared {
    row: ItemRow,
    tags: Vec<String>,
    json: Value,
}

async fn write(store: &Store, jobs: &[TextJob]) -> Result<Vec<JobOutcome>, sqlx::Error> {
    let now = now_ms();
    let prepared: Vec<Prepared> = jobs
        .iter()
        .map(|j| {
            let tags = validate::tags_in(&j.text);
            let row = ItemRow::text(new_id(), &j.group, &j.author, j.text.clone(), &tags, now);
            let json = row.to_json();
            Prepared { row, tags, json }
        })
        .collect();
    let mut tx = store.w().begin().await?;
    let fresh = record_keys(&mut tx, jobs, &prepared, now).await?;

    let new: Vec<usize> = (0..jobs.len())
        .filter(|i| fresh.get(*i).copied().unwrap_or(false))
        .collect();
    if !new.is_empty() {
        let sql = format!(
            "INSERT INTO items (id, group_id, author_id, kind, body, tags, created_at) VALUES {}",
            placeholders(new.len(), 7)
        );
        let mut q = sqlx::query(&sql);
        for &i in &new {
            let (j, p) = (&jobs[i], &prepared[i]);
            q = q
                .bind(p.row.id())
                .bind(j.group.as_str())
                .bind(j.author.as_str())
                .bind("text")
                .bind(j.text.as_str())
                .bind(p.tags.join(" "))
                .bind(now);
        }
        q.execute(&mut *tx).await?;
        let mut tag_rows: Vec<(&str, &str, &str)> = Vec::new();
        for &i in &new {
            let (j, p) = (&jobs[i], &prepared[i]);
            for t in &p.tags {
                tag_rows.push((p.row.id(), j.group.as_str(), t.as_str()));
            }
        }
        for chunk in tag_rows.chunks(500) {
            let sql = format!(
                "INSERT INTO item_tags (item_id, group_id, tag) VALUES {}",
                placeholders(chunk.len(), 3)
            );
            let mut q = sqlx::query(&sql);
            for (item, group, tag) in chunk {
                q = q.bind(*item).bind(*group).bind(*tag);
            }
            q.execute(&mut *tx).await?;
        }
    }
    // Notifications: every other member gets new_item, or mention when @named.
    let mut notes: Vec<NewNotification> = Vec::new();
    let mut spans: Vec<(usize, usize)> = vec![(0, 0); jobs.len()];
    for &i in &new {
        let j = &jobs[i];
        let mentions = validate::mentions_in(&j.text);
        let handles: Vec<(String, String)> = if mentions.is_empty() {
            Vec::new()
        } else {
            sqlx::query_as(
                "SELECT a.id, a.display_name FROM members m JOIN accounts a ON a.id = m.account_id WHERE m.group_id = $1",
            )
            .bind(j.group.as_str())
            .fetch_all(&mut *tx)
            .await?
        };
        let start = notes.len();
        let subject: String = j.text.chars().take(100).collect();
        for m in j.members.iter().filter(|m| **m != j.author) {
            let mentioned = handles.iter().any(|(id, name)| {
                id == m
                    && mentions.contains(
                        &name
                            .chars()
                            .filter(|c| !c.is_whitespace())
                            .collect::<String>()
                            .to_lowercase(),
                    )
            });
            notes.push(NewNotification {
                account: m.clone(),
                kind: if mentioned { "mention" } else { "new_item" },
                group: Some(j.group.clone()),
                item: Some(prepared[i].row.id().to_owned()),
                actor: Some(j.author.clone()),
                subject: Some(subject.clone()),
            });
        }
        if let Some(s) = spans.get_mut(i) {
            *s = (start, notes.len());
        }
    }
    let written = notifications::insert(&mut tx, &notes)
        .await
        .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    tx.commit().await?;
    let mut written = written.into_iter().map(Some).collect::<Vec<_>>();
    Ok((0..jobs.len())
        .map(|i| {
            if !fresh.get(i).copied().unwrap_or(false) {
                return JobOutcome::KeyTaken;
            }
            let (a, b) = spans.get(i).copied().unwrap_or((0, 0));
            let notify = written
                .get_mut(a..b)
                .map(|s| s.iter_mut().filter_map(Option::take).collect())
                .unwrap_or_default();
            JobOutcome::Created {
                body: prepared[i].json.clone(),
                notify,
            }
        })
        .collect())
}

/// Records the idempotency keys of the batch; returns which jobs are new.
async fn record_keys(
    conn: &mut AnyConnection,
    jobs: &[TextJob],
    prepared: &[Prepared],
    now: i64,
) -> Result<Vec<bool>, sqlx::Error> {
    let mut fresh = vec![true; jobs.len()];
    let mut seen: HashSet<(&str, &str, &str)> = HashSet::new();
    let mut keyed: Vec<usize> = Vec::new();
    for (i, j) in jobs.iter().enumerate() {
        if let Some((key, route, _)) = &j.idem {
            // A twin later in the same batch is a retry of the earlier one.
            if seen.insert((j.author.as_str(), key.as_str(), route.as_str())) {
                keyed.push(i);
            } else if let Some(f) = fresh.get_mut(i) {
                *f = false;
            }
        }
    }
    if keyed.is_empty() {
        return Ok(fresh);
    }
    let sql = format!(
        "INSERT INTO idempotency (account_id, idem_key, route, fingerprint, status, body, created_at) VALUES {} \
         ON CONFLICT DO NOTHING RETURNING account_id, idem_key, route",
        placeholders(keyed.len(), 7)
    );
    let mut q = sqlx::query_as::<_, (String, String, String)>(&sql);
    for &i in &keyed {
        let j = &jobs[i];
        let (key, route, fp) = j
            .idem
            .as_ref()
            .map(|(k, r, f)| (k.as_str(), r.as_str(), f.as_str()))
            .unwrap_or_default();
        q = q
            .bind(j.author.as_str())
            .bind(key)
            .bind(route)
            .bind(fp)
            .bind(201_i64)
            .bind(prepared[i].json.to_string())
            .bind(now);
    }
    let inserted: HashSet<(String, String, String)> =
        q.fetch_all(&mut *conn).await?.into_iter().collect();
    for &i in &keyed {
        let j = &jobs[i];
        if let Some((key, route, _)) = &j.idem {
            if !inserted.contains(&(j.author.clone(), key.clone(), route.clone())) {
                if let Some(f) = fresh.get_mut(i) {
                    *f = false;
                }
            }
        }
    }
    Ok(fresh)
}
