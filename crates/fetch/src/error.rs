use crate::policy::Blocked;
use std::time::Duration;

/// Why a destination was refused. The messages name the kind of address for IP literals (the
/// user wrote it) but not for resolved names, so that answers do not map internal DNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Forbidden {
    /// The URL's host is an IP literal in a blocked range.
    #[error("the URL's host is a {} address, which may not be fetched", .0.class)]
    Address(Blocked),
    /// Every address the name resolves to is blocked; holds the first refusal, for logs.
    #[error("the URL's host resolves only to private or reserved addresses")]
    Resolved(Blocked),
    /// A name refused whatever it resolves to (cloud metadata services).
    #[error("the URL's host name may not be fetched")]
    Name,
}

impl Forbidden {
    pub fn blocked(&self) -> Option<Blocked> {
        match self {
            Self::Address(b) | Self::Resolved(b) => Some(*b),
            Self::Name => None,
        }
    }
}

/// Everything that can go wrong with an outbound request, one variant per message the app
/// shows. No message includes a response body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("only http and https URLs can be fetched, not `{0}:`")]
    BadScheme(String),
    #[error("the URL has no host")]
    NoHost,
    #[error("{0}")]
    Forbidden(Forbidden),
    #[error("could not resolve the URL's host")]
    Unresolvable,
    #[error("more than {max} redirects")]
    TooManyRedirects { max: usize },
    #[error("the server redirected to an invalid URL")]
    InvalidRedirect,
    #[error("refused a redirect from https to http")]
    InsecureRedirect,
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("the file is larger than the {limit}-byte limit")]
    TooLarge { limit: u64 },
    #[error("timed out after {after:?}")]
    Timeout { after: Duration },
    #[error("the transfer stalled for {after:?}")]
    Stalled { after: Duration },
    #[error("could not fetch: {0}")]
    Transport(String),
    /// The owner (an account) waited this long for a fetch slot, its share or every slot being
    /// in use: worth retrying shortly.
    #[error(
        "this account's media fetches are busy: no fetch slot came free within {waited:?}; \
         retry in a few seconds, or with fewer media at once"
    )]
    Busy { waited: Duration },
}

impl FetchError {
    /// Whether asking again cannot help: the URL is refused or malformed, or the file too
    /// large. Statuses, timeouts and transport failures may pass.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::BadScheme(_)
                | Self::NoHost
                | Self::Forbidden(_)
                | Self::TooManyRedirects { .. }
                | Self::InvalidRedirect
                | Self::InsecureRedirect
                | Self::TooLarge { .. }
        )
    }
}

impl From<Forbidden> for FetchError {
    fn from(value: Forbidden) -> Self {
        Self::Forbidden(value)
    }
}

/// Builds a transport error from a reqwest error. Refusals made inside the guarded resolver
/// come back wrapped in reqwest's and hyper's errors; they are dug out of the source chain so
/// the caller sees [`FetchError::Forbidden`] rather than a connection failure.
pub(crate) fn from_reqwest(error: reqwest::Error) -> FetchError {
    let error = error.without_url();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = cause {
        if let Some(guard) = e.downcast_ref::<crate::resolver::GuardError>() {
            return guard.clone().into();
        }
        cause = e.source();
    }
    // reqwest's own message is terse ("error sending request"); the chain says what failed.
    // Messages repeat their source's text at times, so skip what is already there.
    let mut message = String::new();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = cause {
        let text = e.to_string();
        if !message.contains(&text) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&text);
        }
        cause = e.source();
    }
    FetchError::Transport(message)
}
