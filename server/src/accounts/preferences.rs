//! What a person chooses for themselves: their language (`id` or `en`),
//! which wins over a browser's `Accept-Language` on every device they sign
//! in to the console from, and the language of the API's problems when a
//! request's `Accept-Language` names none the catalogue speaks.

use crate::AppState;
use crate::db::users;
use crate::domain::Actor;
use crate::i18n::Lang;
use crate::service::ServiceError;
use crate::work::{Effects, Work};

/// Records `actor`'s language (`None`: follow the browser again). Every
/// account may; the change shows at once on this instance and within the
/// caller cache's lifetime on the others.
pub async fn set_language(
    state: &AppState,
    actor: &Actor,
    lang: Option<Lang>,
) -> Result<(), ServiceError> {
    let mut work = Work::begin(state).await?;
    users::set_language(work.tx(), &actor.user_id, lang.map(Lang::code)).await?;
    work.commit(Effects::none()).await?;
    state.callers.forget_user(&actor.user_id);
    Ok(())
}
