// The migrations are compiled into the binary by `sqlx::migrate!`: rebuild when one changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
