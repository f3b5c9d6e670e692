using Grid.Tasks.Datasets;
using Grid.Tasks.Images;
using Grid.Tasks.Tests.Datasets;
using static Grid.TestSupport.HostileFiles;

namespace Grid.Tasks.Tests.Images;

/// <summary>
/// Decompression bombs: a small PNG whose header declares a huge image. The declared size is read from IHDR and
/// refused before anything is decoded, by the codec and by the dataset reader (naming the record, file, size and limit).
/// </summary>
public sealed class PngBombTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void The_declared_size_is_read_from_the_header_without_decoding()
    {
        byte[] png = Bomb(100_000, 70_000, rows: 1);

        Assert.Equal((100_000, 70_000), PngCodec.ReadDeclaredSize(png));
        var e = Assert.Throws<InvalidDataException>(() => PngCodec.Decode(png));
        Assert.Contains("100000x70000", e.Message);
        Assert.Contains($"limit of {PngCodec.MaxPixels}", e.Message);
    }

    [Fact]
    public void A_bomb_of_about_a_megabyte_declaring_20000x20000_is_refused_by_dataset_check_with_record_file_size_and_limit()
    {
        Directory.CreateDirectory(_folder.File("images"));
        byte[] bomb = Bomb(20_000, 20_000);
        Assert.True(bomb.Length < 2 << 20, $"{bomb.Length} bytes");
        File.WriteAllBytes(_folder.File("images/bomb.png"), bomb);
        string jsonl = _folder.File("data.jsonl");
        File.WriteAllLines(jsonl, Enumerable.Range(0, 3).Select(i =>
            $$"""{"id":"b{{i}}","task":"counting","question":"How many?","answer":"3","image":"images/bomb.png"}"""));
        long before = GC.GetTotalAllocatedBytes();

        var e = Assert.Throws<DatasetFormatException>(() => DatasetReader.Read(jsonl).ToList());

        Assert.True(GC.GetTotalAllocatedBytes() - before < 64 << 20, "the bomb was read or decoded");
        Assert.Equal(1, e.LineNumber);
        Assert.Contains("images/bomb.png", e.Message);
        Assert.Contains("20000x20000", e.Message);
        Assert.Contains("4096x4096", e.Message);
        Assert.Contains("not decoded", e.Message);
    }

    [Theory]
    [InlineData(0, 5)]
    [InlineData(5, 0)]
    public void A_header_declaring_an_empty_side_is_refused(int width, int height) =>
        Assert.Contains("each side must be from 1", Assert.Throws<InvalidDataException>(() =>
            PngCodec.ReadDeclaredSize(Bomb(width, height, rows: 0))).Message);

    [Fact]
    public void A_png_without_ihdr_first_is_refused()
    {
        byte[] png = Bomb(4, 4);
        png[12] = (byte)'X';

        Assert.Contains("no IHDR", Assert.Throws<InvalidDataException>(() => PngCodec.Decode(png)).Message);
    }

    [Fact]
    public void An_image_within_the_limit_still_decodes() =>
        Assert.Equal(3000, PngCodec.Decode(Bomb(3000, 2))!.Width);
}
