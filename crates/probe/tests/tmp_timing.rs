use std::io::Cursor;
use std::time::Instant;
#[test]
fn timing() {
    let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(6000, 4000, |x, y| {
        image::Rgb([(x * 13 ^ y * 7) as u8, (x * y) as u8, (y * 3) as u8])
    }));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    let jpeg = out.into_inner();
    let t = Instant::now();
    for _ in 0..10 {
        seedgate_probe::probe(&jpeg).unwrap();
    }
    eprintln!(
        "jpeg {} bytes: {:?} per probe",
        jpeg.len(),
        t.elapsed() / 10
    );
    let mp4 = seedgate_local_renderer::render(&seedgate_local_renderer::RenderSpec {
        width: 1280,
        height: 720,
        fps: 24,
        duration_seconds: 15,
        scene: seedgate_local_renderer::Scene::Card { prompt: "x".into() },
        audio: true,
    })
    .unwrap();
    let t = Instant::now();
    for _ in 0..100 {
        seedgate_probe::probe(&mp4).unwrap();
    }
    eprintln!("mp4 {} bytes: {:?} per probe", mp4.len(), t.elapsed() / 100);
    let mut mp3 = Vec::new();
    for _ in 0..36000 {
        let mut f = vec![0xFF, 0xFB, 0x90, 0x64];
        f.resize(417, 0);
        mp3.extend(f);
    }
    let t = Instant::now();
    for _ in 0..10 {
        seedgate_probe::probe(&mp3).unwrap();
    }
    eprintln!("mp3 {} bytes: {:?} per probe", mp3.len(), t.elapsed() / 10);
}
