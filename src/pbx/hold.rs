//! Music on hold as the core offers it to every module (Asterisk's `ast_moh_start`): the
//! module that plays hold music (`res_musiconhold.so`) installs a [`HoldMusic`] service;
//! Dial's `m` option and later Queue and parking call [`start`] without knowing it.

use super::bridge::AbortOnDrop;
use super::media::FrameQueue;
use super::Pbx;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What [`HoldMusic::start`] returns: the music's guard once its files are ready (finding
/// and decoding them is file work, done off the async workers).
pub type Starting<'a> = Pin<Box<dyn Future<Output = Option<AbortOnDrop>> + Send + 'a>>;

/// Plays a hold-music class into a frame queue until the returned guard drops.
pub trait HoldMusic: Send + Sync {
    fn start<'a>(
        &'a self,
        pbx: &'a Arc<Pbx>,
        class: &'a str,
        to_far: Arc<FrameQueue>,
    ) -> Starting<'a>;
}

/// The installed hold music (a service, [`Pbx::service`]).
pub struct HoldMusicService(pub Arc<dyn HoldMusic>);

/// Start hold music of `class` (empty: `default`) into `to_far`. `None` when the class does
/// not exist or no hold music module is loaded (as Asterisk, a verbose note).
pub async fn start(pbx: &Arc<Pbx>, class: &str, to_far: Arc<FrameQueue>) -> Option<AbortOnDrop> {
    match pbx.service::<HoldMusicService>() {
        Some(s) => s.0.start(pbx, class, to_far).await,
        None => {
            pbx.verbose_line(
                3,
                &format!(
                    "Music class {} requested but no musiconhold loaded.",
                    if class.is_empty() { "default" } else { class }
                ),
            );
            None
        }
    }
}
