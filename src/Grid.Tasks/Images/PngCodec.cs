using System.Runtime.InteropServices;
using SkiaSharp;

namespace Grid.Tasks.Images;

/// <summary>
/// PNG files to and from <see cref="RgbImage"/>, through SkiaSharp. Encoding writes 8-bit RGB; decoding accepts any
/// PNG Skia reads (grey, palette, 16-bit, with alpha) and keeps R, G, B, dropping alpha. Decoding is exact:
/// no colour-space conversion, so export then import gives the same pixels.
/// </summary>
public static class PngCodec
{
    private static readonly byte[] s_signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    public static bool HasPngSignature(ReadOnlySpan<byte> data) => data.StartsWith(s_signature);

    public static byte[] Encode(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var info = new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        var rgba = new byte[image.Width * image.Height * 4];
        for (int source = 0, target = 0; source < image.Pixels.Length; source += 3, target += 4)
        {
            rgba[target] = image.Pixels[source];
            rgba[target + 1] = image.Pixels[source + 1];
            rgba[target + 2] = image.Pixels[source + 2];
            rgba[target + 3] = 255;
        }

        var handle = GCHandle.Alloc(rgba, GCHandleType.Pinned);
        try
        {
            using var pixmap = new SKPixmap(info, handle.AddrOfPinnedObject(), info.RowBytes);
            using var data = pixmap.Encode(SKEncodedImageFormat.Png, 100)
                ?? throw new InvalidOperationException($"SkiaSharp could not encode a {image.Width}x{image.Height} PNG.");
            return data.ToArray();
        }
        finally
        {
            handle.Free();
        }
    }

    /// <exception cref="InvalidDataException">The bytes are not a PNG, or the PNG is truncated or corrupt.</exception>
    public static RgbImage Decode(ReadOnlySpan<byte> png)
    {
        if (!HasPngSignature(png))
        {
            string start = Convert.ToHexString(png[..Math.Min(8, png.Length)]);
            throw new InvalidDataException(
                $"Not a PNG: the data starts with bytes {(start.Length == 0 ? "(none, it is empty)" : start)}, a PNG starts "
                + "with 89504E470D0A1A0A. Convert the image to PNG (8-bit RGB).");
        }

        using var data = SKData.CreateCopy(png);
        using var codec = SKCodec.Create(data)
            ?? throw new InvalidDataException("Corrupt PNG: it has a PNG signature but its header cannot be read. "
                + "Re-export the image.");
        int width = codec.Info.Width, height = codec.Info.Height;
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[info.BytesSize];
        var handle = GCHandle.Alloc(rgba, GCHandleType.Pinned);
        SKCodecResult result;
        try
        {
            result = codec.GetPixels(info, handle.AddrOfPinnedObject());
        }
        finally
        {
            handle.Free();
        }

        if (result != SKCodecResult.Success)
        {
            throw new InvalidDataException(
                $"Corrupt PNG ({width}x{height}): decoding stopped with '{result}'. The file is truncated or damaged; "
                + "re-export the image.");
        }

        var rgb = new byte[width * height * 3];
        for (int source = 0, target = 0; target < rgb.Length; source += 4, target += 3)
        {
            rgb[target] = rgba[source];
            rgb[target + 1] = rgba[source + 1];
            rgb[target + 2] = rgba[source + 2];
        }

        return new RgbImage(width, height, rgb);
    }
}
