// The migrations are embedded at compile time (`embed_migrations!`): a new
// migration folder must rebuild the crate, which cargo only knows from here.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
