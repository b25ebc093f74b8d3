//! `talkod`: the talko daemon.
fn main() {
    eprintln!("talkod: the daemon is being assembled");
}
