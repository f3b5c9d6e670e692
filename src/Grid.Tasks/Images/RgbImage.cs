namespace Grid.Tasks.Images;

/// <summary>An 8-bit RGB image, row-major, 3 bytes per pixel. Equal when size and every pixel are equal.</summary>
public sealed class RgbImage : IEquatable<RgbImage>
{
    public RgbImage(int width, int height, byte[] pixels)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.Length != width * height * 3)
        {
            throw new ArgumentException(
                $"An RGB image of {width}x{height} needs {width * height * 3} bytes, got {pixels.Length}.", nameof(pixels));
        }

        Width = width;
        Height = height;
        Pixels = pixels;
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>R, G, B of pixel (x, y) at index 3 * (y * Width + x).</summary>
    public byte[] Pixels { get; }

    public static RgbImage Filled(int width, int height, Rgb color)
    {
        var pixels = new byte[width * height * 3];
        for (int i = 0; i < pixels.Length; i += 3)
        {
            pixels[i] = color.R;
            pixels[i + 1] = color.G;
            pixels[i + 2] = color.B;
        }

        return new RgbImage(width, height, pixels);
    }

    public Rgb this[int x, int y]
    {
        get
        {
            int i = 3 * ((y * Width) + x);
            return new Rgb(Pixels[i], Pixels[i + 1], Pixels[i + 2]);
        }
        set
        {
            int i = 3 * ((y * Width) + x);
            Pixels[i] = value.R;
            Pixels[i + 1] = value.G;
            Pixels[i + 2] = value.B;
        }
    }

    public bool Equals(RgbImage? other) =>
        other is not null && Width == other.Width && Height == other.Height && Pixels.AsSpan().SequenceEqual(other.Pixels);

    public override bool Equals(object? obj) => Equals(obj as RgbImage);

    public override int GetHashCode() => HashCode.Combine(Width, Height, Pixels.Length > 0 ? Pixels[Pixels.Length / 2] : 0);
}

/// <summary>One RGB colour.</summary>
public readonly record struct Rgb(byte R, byte G, byte B);
