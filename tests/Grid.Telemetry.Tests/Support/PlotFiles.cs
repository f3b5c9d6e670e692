using Grid.Telemetry.Reports;
using SkiaSharp;

namespace Grid.Telemetry.Tests.Support;

public static class PlotFiles
{
    /// <summary>Each file decodes as a PNG of <see cref="RunPlots.Width"/> x <see cref="RunPlots.Height"/> with a drawing on it.</summary>
    public static void AssertPlots(IReadOnlyList<string> paths)
    {
        Assert.NotEmpty(paths);
        foreach (string path in paths)
        {
            using var codec = SKCodec.Create(path);
            Assert.True(codec is not null, $"{path} is not an image SkiaSharp can decode");
            Assert.Equal(SKEncodedImageFormat.Png, codec.EncodedFormat);
            using var bitmap = SKBitmap.Decode(codec);
            Assert.Equal(RunPlots.Width, bitmap.Width);
            Assert.Equal(RunPlots.Height, bitmap.Height);
            int colours = Enumerable.Range(0, bitmap.Height).Where(y => y % 5 == 0)
                .SelectMany(y => Enumerable.Range(0, bitmap.Width).Where(x => x % 5 == 0).Select(x => bitmap.GetPixel(x, y)))
                .Distinct().Count();
            Assert.True(colours > 10, $"{path} has only {colours} colours: an empty canvas, not a plot");
        }
    }
}
