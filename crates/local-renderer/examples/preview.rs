//! Renders a preview to a file and reports how long it took, for eyeballing output by hand:
//!
//! ```sh
//! cargo run -p seedgate-local-renderer --example preview -- card 1280 720 5 /tmp/card.mp4 "a prompt"
//! cargo run -p seedgate-local-renderer --example preview -- frames 1280 720 5 /tmp/f.mp4 first.jpg [last.png]
//! cargo run -p seedgate-local-renderer --example preview -- refs 864 496 4 /tmp/r.mp4 a.jpg b.png c.webp
//! cargo run -p seedgate-local-renderer --example preview -- inspect any.mp4
//! ```

use std::time::Instant;

use seedgate_local_renderer::{inspect, render, RenderSpec, Scene};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() == 2 && args[0] == "inspect" {
        println!("{:#?}", inspect(&std::fs::read(&args[1])?)?);
        return Ok(());
    }
    if args.len() < 5 {
        return Err(
            "usage: preview card|frames|refs WIDTH HEIGHT SECONDS OUT [PROMPT | IMAGES...]".into(),
        );
    }
    let rest = &args[5..];
    let read = |p: &String| std::fs::read(p);
    let scene = match args[0].as_str() {
        "card" => Scene::Card {
            prompt: rest.join(" "),
        },
        "frames" => Scene::Frames {
            first: read(rest.first().ok_or("frames needs an image")?)?,
            last: rest.get(1).map(read).transpose()?,
            prompt: Some("A slow move from the first frame to the last".into()),
        },
        "refs" => Scene::References {
            images: rest.iter().map(read).collect::<Result<_, _>>()?,
            prompt: Some("Reference images in sequence".into()),
        },
        other => return Err(format!("unknown scene kind {other}").into()),
    };
    let spec = RenderSpec {
        width: args[1].parse()?,
        height: args[2].parse()?,
        fps: 24,
        duration_seconds: args[3].parse()?,
        scene,
        audio: true,
    };
    let started = Instant::now();
    let mp4 = render(&spec)?;
    let elapsed = started.elapsed();
    std::fs::write(&args[4], &mp4)?;
    println!(
        "rendered {} bytes in {:.3} s",
        mp4.len(),
        elapsed.as_secs_f64()
    );
    println!("{:#?}", inspect(&mp4)?);
    Ok(())
}
