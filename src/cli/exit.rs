//! How a command ends: the exit status `main` gives for an error.

/// A command stopped by Ctrl-C after saving its state: `main` exits with status 130, as a
/// shell's `train && evaluate` expects, so nothing goes on with a half-trained model.
#[derive(Debug)]
pub struct Interrupted(pub String);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Interrupted {}

/// The process exit status for an error: 130 for [`Interrupted`], else 1.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err.downcast_ref::<Interrupted>().is_some() {
        130
    } else {
        1
    }
}
