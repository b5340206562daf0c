//! Publish/subscribe.

use crate::effects::Note;
use crate::server::Server;

/// Publishes keyspace notifications.
pub fn publish_notes(_server: &Server, _notes: Vec<Note>) {}
