//! Signing in and out (`core.auth()`).
//!
//! Signing in as another user than the one whose data is on the device
//! first wipes that data — documents, outbox, upload queue and photo files,
//! and the feed cursor — in the same transaction that stores the new
//! session, then re-derives "assigned to me" for what stays. The tokens and
//! the `account` table are [`crate::account`]'s; each wiped table is its
//! feature's.

use std::sync::Arc;

use crate::account::{self, Session};
use crate::documents::{self, Me};
use crate::error::{CoreError, Result};
use crate::model::Account;
use crate::shared::Shared;
use crate::{outbox, photos, store};

/// Who is signed in, and signing in and out (`core.auth()`).
#[derive(Debug, Clone, Copy)]
pub struct Auth<'a> {
    shared: &'a Arc<Shared>,
}

impl<'a> Auth<'a> {
    pub(crate) fn new(shared: &'a Arc<Shared>) -> Self {
        Auth { shared }
    }

    /// The signed-in account, if any.
    pub fn account(&self) -> Option<Account> {
        self.shared.account()
    }

    /// Signs in against `base_url` (e.g. `http://127.0.0.1:8080`). Signing
    /// in as another user than the one whose data is on the device first
    /// wipes that data.
    pub async fn login(&self, base_url: &str, email: &str, password: &str) -> Result<Account> {
        let base_url = account::normalize_base_url(base_url)?;
        if email.trim().is_empty() || password.is_empty() {
            return Err(CoreError::invalid(
                "credentials",
                "e-mail and password are required",
            ));
        }
        let shared = self.shared.clone();
        let (email, password) = (email.to_owned(), password.to_owned());
        self.shared
            .run(async move {
                let device = format!("fieldops device {}", shared.device_id);
                let session =
                    account::login(&shared.http, &base_url, &email, &password, &device).await?;
                let user_id = session.account.user_id;
                let switching = shared
                    .store
                    .read(account::load)?
                    .is_some_and(|previous| previous.account.user_id != user_id);
                if switching {
                    // The previous user's live sync must not store what it
                    // receives into the next user's wiped store.
                    shared.stop_live();
                }
                // The new user is the one a session started from now on
                // syncs as; one that started before is refused its writes
                // once the wipe below moves the store's generation.
                let previous = shared.session();
                shared.set_session(Some(session.clone()));
                let stored = session.clone();
                let saved = shared
                    .blocking(move |shared| {
                        // The previous user's photo files go once the wipe
                        // committed, before any other write (a photo the
                        // new user attaches is recorded after): a wipe that
                        // fails (a full disk) leaves their unsent photos
                        // whole.
                        let clear_files = |wiped: &bool| {
                            if *wiped {
                                shared.files.clear();
                            }
                        };
                        shared.store.write_then(
                            |tx| {
                                let previous = account::load(tx)?;
                                let wipe = previous
                                    .is_some_and(|p| p.account.user_id != stored.account.user_id);
                                if wipe {
                                    documents::clear(tx)?;
                                    documents::refused::clear(tx)?;
                                    outbox::clear(tx)?;
                                    photos::clear_queue(tx)?;
                                    store::clear_cursor(tx)?;
                                    shared.store.wiped();
                                }
                                account::save(tx, &stored)?;
                                documents::reindex_all(tx, Me(Some(stored.account.user_id)))?;
                                Ok(wipe)
                            },
                            clear_files,
                        )
                    })
                    .await;
                if let Err(error) = saved {
                    // Nothing changed in the store: the previous user stays.
                    shared.set_session(previous);
                    return Err(error);
                }
                let account = session.account.clone();
                shared.refresh_status();
                Ok(account)
            })
            .await
    }

    /// Signs out: stops syncing and forgets the tokens. Local data stays
    /// until another user signs in.
    pub fn logout(&self) -> Result<()> {
        self.shared.stop_live();
        self.shared.store.write(|tx| account::clear(tx))?;
        self.shared.set_session(None);
        Ok(())
    }

    /// Signs in without a server (tokens are placeholders and sync fails).
    /// For tests, benchmarks and the simulator; not for apps.
    #[doc(hidden)]
    pub fn sign_in_offline(&self, account: Account) -> Result<()> {
        let session = Session {
            account,
            access_token: "offline".into(),
            access_expires_at_ms: 0,
            refresh_token: "offline".into(),
        };
        let me = Me(Some(session.account.user_id));
        self.shared.store.write(|tx| {
            account::save(tx, &session)?;
            documents::reindex_all(tx, me)
        })?;
        self.shared.set_session(Some(session));
        Ok(())
    }
}
