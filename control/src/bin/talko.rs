//! `talko`: the command-line client.
fn main() {
    eprintln!("talko: the client is being assembled");
}
