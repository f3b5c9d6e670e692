using System.Buffers.Binary;
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

    /// <summary>
    /// Images declaring more pixels than this are refused before decoding (a small file can declare a huge image:
    /// 20000x20000 decodes to gigabytes). Task images are 48x48; 4096x4096 decodes to 64 MB.
    /// </summary>
    public const long MaxPixels = 4096L * 4096;

    /// <summary>Signature, IHDR length and type, width and height: the bytes <see cref="ReadDeclaredSize"/> needs.</summary>
    public const int HeaderBytes = 24;

    public static bool HasPngSignature(ReadOnlySpan<byte> data) => data.StartsWith(s_signature);

    /// <summary>
    /// The width and height a PNG declares in its IHDR chunk (which must come first), read without decoding anything.
    /// </summary>
    /// <exception cref="InvalidDataException">Not a PNG, or no valid IHDR chunk where the format puts it.</exception>
    public static (int Width, int Height) ReadDeclaredSize(ReadOnlySpan<byte> png)
    {
        RequireSignature(png);
        if (png.Length < HeaderBytes
            || BinaryPrimitives.ReadUInt32BigEndian(png[8..]) != 13
            || !png[12..16].SequenceEqual("IHDR"u8))
        {
            throw new InvalidDataException("Corrupt PNG: it has a PNG signature but no IHDR header chunk after it. Re-export the image.");
        }

        uint width = BinaryPrimitives.ReadUInt32BigEndian(png[16..]);
        uint height = BinaryPrimitives.ReadUInt32BigEndian(png[20..]);
        if (width is 0 or > int.MaxValue || height is 0 or > int.MaxValue)
        {
            throw new InvalidDataException(
                $"Corrupt PNG: its header declares {width}x{height} pixels; each side must be from 1 to {int.MaxValue}. Re-export the image.");
        }

        return ((int)width, (int)height);
    }

    /// <summary>Null when the declared size is within <paramref name="maxPixels"/>, else why it is refused.</summary>
    public static string? TooLarge(int width, int height, long maxPixels = MaxPixels) =>
        (long)width * height <= maxPixels
            ? null
            : $"it declares {width}x{height} = {(long)width * height} pixels, more than the limit of {maxPixels} "
              + $"({(long)Math.Sqrt(maxPixels)}x{(long)Math.Sqrt(maxPixels)}); it was not decoded. Scale the image down (task images are 48x48)";

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

    /// <exception cref="InvalidDataException">The bytes are not a PNG, the PNG is truncated or corrupt, or it declares
    /// more than <paramref name="maxPixels"/> pixels (refused before anything is decoded).</exception>
    public static RgbImage Decode(ReadOnlySpan<byte> png, long maxPixels = MaxPixels)
    {
        var (declaredWidth, declaredHeight) = ReadDeclaredSize(png);
        if (TooLarge(declaredWidth, declaredHeight, maxPixels) is { } refusal)
        {
            throw new InvalidDataException($"Image too large: {refusal}.");
        }

        using var data = SKData.CreateCopy(png);
        using var codec = SKCodec.Create(data)
            ?? throw new InvalidDataException("Corrupt PNG: it has a PNG signature but its header cannot be read. "
                + "Re-export the image.");
        int width = codec.Info.Width, height = codec.Info.Height;
        if (width != declaredWidth || height != declaredHeight)
        {
            throw new InvalidDataException(
                $"Corrupt PNG: its IHDR declares {declaredWidth}x{declaredHeight} but the decoder reads {width}x{height}. Re-export the image.");
        }
        byte[] rgba = ReadRgba(codec, "PNG");

        var rgb = new byte[width * height * 3];
        for (int source = 0, target = 0; target < rgb.Length; source += 4, target += 3)
        {
            rgb[target] = rgba[source];
            rgb[target + 1] = rgba[source + 1];
            rgb[target + 2] = rgba[source + 2];
        }

        return new RgbImage(width, height, rgb);
    }

    /// <summary>
    /// Every pixel of <paramref name="codec"/>'s image as unpremultiplied RGBA. A decoder that stops early means a
    /// truncated or damaged file, refused naming <paramref name="what"/> ("PNG", "Jpeg image", ...) and its size.
    /// </summary>
    internal static byte[] ReadRgba(SKCodec codec, string what)
    {
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
                $"Corrupt {what} ({width}x{height}): decoding stopped with '{result}'. The file is truncated or damaged; "
                + "re-export the image.");
        }

        return rgba;
    }

    private static void RequireSignature(ReadOnlySpan<byte> png)
    {
        if (!HasPngSignature(png))
        {
            string start = Convert.ToHexString(png[..Math.Min(8, png.Length)]);
            throw new InvalidDataException(
                $"Not a PNG: the data starts with bytes {(start.Length == 0 ? "(none, it is empty)" : start)}, a PNG starts "
                + "with 89504E470D0A1A0A. Convert the image to PNG (8-bit RGB).");
        }
    }
}
