use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::api::{Logout, get_current_user};
use crate::error::{AppError, FormErrors};
use crate::model::CurrentUser;

/// Who is logged in, shared through context and refreshed whenever an
/// action that changes it (register, login, logout) completes.
#[derive(Clone, Copy)]
pub struct Auth {
    changed: RwSignal<usize>,
    pub logout: ServerAction<Logout>,
    pub user: Resource<Result<Option<CurrentUser>, AppError>>,
}

impl Auth {
    pub fn provide() -> Self {
        let changed = RwSignal::new(0usize);
        let logout = ServerAction::<Logout>::new();
        let user = Resource::new(move || (changed.get(), logout.version().get()), |_| get_current_user());
        let auth = Self { changed, logout, user };
        provide_context(auth);
        auth
    }

    /// Bumps whenever who is logged in may have changed.
    pub fn changed(&self) -> usize {
        self.changed.get()
    }

    /// A page's action whose completion changes who is logged in. Created
    /// by the page, inside the routes, so that an error carried back in the
    /// URL by a form posted without JavaScript is restored into it.
    pub fn tracked<A>(&self) -> ServerAction<A>
    where
        A: ServerFn + Clone + Send + Sync + 'static,
        A::Output: Send + Sync + 'static,
        A::Error: Send + Sync + 'static,
    {
        let action = ServerAction::<A>::new();
        let changed = self.changed;
        Effect::new(move |_| {
            if action.version().get() > 0 {
                changed.update(|n| *n += 1);
            }
        });
        action
    }
}

pub fn use_auth() -> Auth {
    expect_context::<Auth>()
}

/// Field errors of the last submission of a form's action.
pub fn form_errors<A>(action: ServerAction<A>) -> Signal<FormErrors>
where
    A: ServerFn<Output = (), Error = AppError> + Clone + Send + Sync + 'static,
{
    Signal::derive(move || match action.value().get() {
        Some(Err(AppError::Invalid(form))) => form,
        _ => FormErrors::default(),
    })
}

/// The message for the whole form, if the last submission failed.
pub fn form_message<A>(action: ServerAction<A>) -> Signal<Option<String>>
where
    A: ServerFn<Output = (), Error = AppError> + Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().get().and_then(Result::err).map(|e| e.to_string()))
}
