using Grid.Tasks.Images;

namespace Grid.Tasks.Tests.Images;

public sealed class PngCodecTests
{
    [Fact]
    public void Round_trip_is_bit_exact()
    {
        var random = new Random(42);
        var pixels = new byte[37 * 23 * 3];
        random.NextBytes(pixels);
        var image = new RgbImage(37, 23, pixels);
        Assert.Equal(image, PngCodec.Decode(PngCodec.Encode(image)));
    }

    [Fact]
    public void Generated_images_round_trip_bit_exact()
    {
        foreach (var task in TaskCatalog.All)
        {
            var image = task.Generate(1, 1).Image;
            Assert.Equal(image, PngCodec.Decode(PngCodec.Encode(image)));
        }
    }

    [Fact]
    public void Encoded_files_start_with_the_png_signature() =>
        Assert.True(PngCodec.HasPngSignature(PngCodec.Encode(RgbImage.Filled(4, 4, new Rgb(1, 2, 3)))));

    [Fact]
    public void Non_png_data_is_refused_with_its_first_bytes()
    {
        byte[] jpegStart = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, (byte)'J', (byte)'F', (byte)'I', (byte)'F'];
        var error = Assert.Throws<InvalidDataException>(() => PngCodec.Decode(jpegStart));
        Assert.Contains("Not a PNG", error.Message);
        Assert.Contains("FFD8FFE0", error.Message);
    }

    [Fact]
    public void Empty_data_is_refused() =>
        Assert.Contains("empty", Assert.Throws<InvalidDataException>(() => PngCodec.Decode([])).Message);

    [Fact]
    public void Truncated_png_is_refused_as_corrupt()
    {
        byte[] png = PngCodec.Encode(TaskCatalog.Get("counting").Generate(0, 3).Image);
        var error = Assert.Throws<InvalidDataException>(() => PngCodec.Decode(png.AsSpan(0, png.Length / 2)));
        Assert.Contains("Corrupt PNG", error.Message);
    }
}
