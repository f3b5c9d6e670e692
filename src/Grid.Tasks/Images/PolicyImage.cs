using SkiaSharp;

namespace Grid.Tasks.Images;

/// <summary>
/// The one rule that turns a dataset's image file into what the policy reads (docs/datasets.md, "Images"):
/// <list type="number">
/// <item>The file is at most <see cref="MaxFileBytes"/>; its header's declared size is read first and an image
/// declaring more than <see cref="PngCodec.MaxPixels"/> pixels is refused before any pixel is decoded.</item>
/// <item>Decoding: PNG (grey, grey+alpha, palette, RGB, RGBA, 8 or 16 bit) and JPEG, or anything else SkiaSharp
/// reads (WebP, GIF first frame, BMP), to 8-bit RGBA without colour-space conversion.</item>
/// <item>Alpha is composited on white: c = round((c * a + 255 * (255 - a)) / 255); opaque pixels keep their value.</item>
/// <item>When a target size N is given and the image is not already N x N: letterbox. The image is scaled by
/// N / max(width, height) (its longer side becomes N, the shorter round(side * scale), at least 1), resampled with
/// an area-average (box) filter (each output pixel is the coverage-weighted mean of the source pixels under it, then
/// rounded half up), and centred on a white N x N canvas (odd padding goes right / bottom). An N x N image is left
/// exactly as decoded.</item>
/// </list>
/// </summary>
public static class PolicyImage
{
    /// <summary>An image file larger than this is refused unread.</summary>
    public const long MaxFileBytes = 64L << 20;

    /// <summary>Enough header bytes to know the format and, for PNG, the declared size.</summary>
    public const int SniffBytes = 32;

    private static readonly byte[] s_jpegSignature = [0xFF, 0xD8, 0xFF];

    public static readonly Rgb Background = new(255, 255, 255);

    /// <summary>Decodes an image file's bytes by the rule above.</summary>
    /// <param name="size">The policy's image side N, or null to keep the decoded size.</param>
    /// <exception cref="InvalidDataException">Not an image, truncated or corrupt, or declaring too many pixels; the message
    /// says which and what to do.</exception>
    public static RgbImage Decode(ReadOnlySpan<byte> file, int? size = null, long maxPixels = PngCodec.MaxPixels)
    {
        if (size is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "The target image size must be at least 1.");
        }

        (int Width, int Height)? declared = null;
        if (PngCodec.HasPngSignature(file))
        {
            declared = PngCodec.ReadDeclaredSize(file);
            if (PngCodec.TooLarge(declared.Value.Width, declared.Value.Height, maxPixels) is { } refusal)
            {
                throw new InvalidDataException($"Image too large: {refusal}.");
            }
        }

        using var data = SKData.CreateCopy(file);
        using var codec = SKCodec.Create(data)
            ?? throw new InvalidDataException(Describe(file) + " Convert it to PNG or JPEG.");
        int width = codec.Info.Width, height = codec.Info.Height;
        // The codec has read the header only: the declared size is known, nothing is decoded yet.
        if (width < 1 || height < 1)
        {
            throw new InvalidDataException($"Corrupt image: its header declares {width}x{height} pixels. Re-export the image.");
        }

        if (declared is { } size0 && (size0.Width, size0.Height) != (width, height))
        {
            throw new InvalidDataException($"Corrupt PNG: its IHDR declares {size0.Width}x{size0.Height} but the decoder reads "
                + $"{width}x{height}. Re-export the image.");
        }

        if (PngCodec.TooLarge(width, height, maxPixels) is { } tooLarge)
        {
            throw new InvalidDataException($"Image too large: {tooLarge}.");
        }

        byte[] rgba = PngCodec.ReadRgba(codec, $"{codec.EncodedFormat} image");

        var image = OnWhite(width, height, rgba);
        return size is { } n ? Letterbox(image, n) : image;
    }

    /// <summary>RGBA (unpremultiplied) composited on white, as RGB.</summary>
    public static RgbImage OnWhite(int width, int height, byte[] rgba)
    {
        ArgumentNullException.ThrowIfNull(rgba);
        var rgb = new byte[width * height * 3];
        for (int source = 0, target = 0; target < rgb.Length; source += 4, target += 3)
        {
            int alpha = rgba[source + 3];
            for (int c = 0; c < 3; c++)
            {
                rgb[target + c] = alpha == 255
                    ? rgba[source + c]
                    : (byte)(((rgba[source + c] * alpha) + (255 * (255 - alpha)) + 127) / 255);
            }
        }

        return new RgbImage(width, height, rgb);
    }

    /// <summary>The image scaled (area average) so its longer side is <paramref name="size"/>, centred on white.</summary>
    public static RgbImage Letterbox(RgbImage image, int size)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        if (image.Width == size && image.Height == size)
        {
            return image;
        }

        double scale = (double)size / Math.Max(image.Width, image.Height);
        int width = Math.Clamp((int)Math.Round(image.Width * scale, MidpointRounding.AwayFromZero), 1, size);
        int height = Math.Clamp((int)Math.Round(image.Height * scale, MidpointRounding.AwayFromZero), 1, size);
        var scaled = AreaResize(image, width, height);
        var canvas = RgbImage.Filled(size, size, Background);
        int left = (size - width) / 2, top = (size - height) / 2;
        for (int y = 0; y < height; y++)
        {
            Array.Copy(scaled, y * width * 3, canvas.Pixels, (((top + y) * size) + left) * 3, width * 3);
        }

        return canvas;
    }

    /// <summary>Box-filter resize: each target pixel averages the source area it covers, weighted by overlap.</summary>
    private static byte[] AreaResize(RgbImage image, int width, int height)
    {
        var columns = Weights(image.Width, width);
        var rows = Weights(image.Height, height);
        // Horizontal pass: source rows x target columns.
        var horizontal = new double[image.Height * width * 3];
        for (int y = 0; y < image.Height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                double r = 0, g = 0, b = 0;
                foreach (var (sx, w) in columns[x])
                {
                    int i = ((y * image.Width) + sx) * 3;
                    r += image.Pixels[i] * w;
                    g += image.Pixels[i + 1] * w;
                    b += image.Pixels[i + 2] * w;
                }

                int o = ((y * width) + x) * 3;
                (horizontal[o], horizontal[o + 1], horizontal[o + 2]) = (r, g, b);
            }
        }

        var result = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                for (int c = 0; c < 3; c++)
                {
                    double sum = 0;
                    foreach (var (sy, w) in rows[y])
                    {
                        sum += horizontal[(((sy * width) + x) * 3) + c] * w;
                    }

                    result[(((y * width) + x) * 3) + c] = (byte)Math.Clamp(Math.Floor(sum + 0.5), 0, 255);
                }
            }
        }

        return result;
    }

    /// <summary>For each target index, the source indices it covers and their weights (summing to 1).</summary>
    private static List<(int Index, double Weight)>[] Weights(int source, int target)
    {
        var weights = new List<(int, double)>[target];
        double step = (double)source / target;
        for (int t = 0; t < target; t++)
        {
            double from = t * step, to = (t + 1) * step;
            var list = new List<(int, double)>();
            for (int s = (int)Math.Floor(from); s < Math.Min(source, (int)Math.Ceiling(to)); s++)
            {
                double overlap = Math.Min(to, s + 1) - Math.Max(from, s);
                if (overlap > 0)
                {
                    list.Add((s, overlap / step));
                }
            }

            weights[t] = list;
        }

        return weights;
    }

    /// <summary>Why bytes that no decoder accepts are not an image, e.g. "The file starts with bytes 7B22... (text?)".</summary>
    private static string Describe(ReadOnlySpan<byte> file)
    {
        if (file.Length == 0)
        {
            return "Not an image: the file is empty.";
        }

        if (PngCodec.HasPngSignature(file) || file.StartsWith(s_jpegSignature))
        {
            return "Corrupt image: it starts like a " + (file[0] == 0x89 ? "PNG" : "JPEG") + " but its header cannot be read "
                + "(truncated or damaged).";
        }

        string start = Convert.ToHexString(file[..Math.Min(8, file.Length)]);
        return $"Not an image: the file starts with bytes {start}; a PNG starts with 89504E470D0A1A0A, a JPEG with FFD8FF.";
    }
}
