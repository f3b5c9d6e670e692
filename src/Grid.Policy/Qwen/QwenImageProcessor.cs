using Grid.Tasks.Images;

namespace Grid.Policy.Qwen;

/// <summary>
/// Hugging Face's Qwen2VLImageProcessor for one still image: resize to a size <see cref="SmartResize"/> picks (with
/// PIL's bicubic filter, reproduced in <see cref="ResizeBicubic"/>), rescale by 1/255 and normalise per channel in
/// float32 as transformers does, repeat the image to temporal_patch_size frames, and flatten into the vision tower's
/// patch rows in transformers' order.
/// </summary>
public sealed class QwenImageProcessor
{
    private const int Channels = 3;

    // PIL keeps resampling weights in fixed point: 32 bits less 8 for the value and 2 for overshoot.
    private const int PrecisionBits = 32 - 8 - 2;

    private const double BicubicSupport = 2.0;

    public QwenImageProcessor(QwenImageProcessorConfig config) => Config = config ?? throw new ArgumentNullException(nameof(config));

    public QwenImageProcessorConfig Config { get; }

    public static QwenImageProcessor FromCheckpoint(string checkpointFolder) =>
        new(QwenImageProcessorConfig.FromCheckpoint(checkpointFolder));

    /// <summary>
    /// transformers' smart_resize: the (height, width) nearest to the image's, each a multiple of
    /// <paramref name="factor"/>, with height * width within [min, max] pixels (rounded down to fit under the maximum,
    /// up to reach the minimum). Python's round (half to even) and float arithmetic are kept so sizes agree exactly.
    /// </summary>
    /// <exception cref="ArgumentException">The aspect ratio is above 200, which transformers refuses too.</exception>
    public static (int Height, int Width) SmartResize(int height, int width, int factor, int minPixels, int maxPixels)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(factor, 1);
        double ratio = (double)Math.Max(height, width) / Math.Min(height, width);
        if (ratio > 200)
        {
            throw new ArgumentException(
                $"An image of {width}x{height} has aspect ratio {ratio:G6}; Qwen2-VL's processor takes at most 200. " +
                "Crop or pad the image to a less extreme shape.");
        }

        long area = (long)height * width;
        long heightBar = (long)Math.Round((double)height / factor, MidpointRounding.ToEven) * factor;
        long widthBar = (long)Math.Round((double)width / factor, MidpointRounding.ToEven) * factor;
        if (heightBar * widthBar > maxPixels)
        {
            double beta = Math.Sqrt((double)area / maxPixels);
            heightBar = Math.Max(factor, (long)Math.Floor(height / beta / factor) * factor);
            widthBar = Math.Max(factor, (long)Math.Floor(width / beta / factor) * factor);
        }
        else if (heightBar * widthBar < minPixels)
        {
            double beta = Math.Sqrt((double)minPixels / area);
            heightBar = (long)Math.Ceiling(height * beta / factor) * factor;
            widthBar = (long)Math.Ceiling(width * beta / factor) * factor;
        }

        return (checked((int)heightBar), checked((int)widthBar));
    }

    /// <summary>
    /// PIL's <c>Image.resize(size, Image.BICUBIC)</c> of an RGB image, to the byte: a separable convolution
    /// (horizontal pass, then vertical, each rounded and clipped to 8 bits) with the a = -0.5 cubic kernel, widened by
    /// the downscale factor, its weights normalised and held in 22-bit fixed point, as Pillow's Resample.c does.
    /// </summary>
    public static RgbImage ResizeBicubic(RgbImage image, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        byte[] pixels = image.Pixels;
        int inWidth = image.Width;
        int inHeight = image.Height;
        if (width != inWidth)
        {
            var horizontal = ResampleWeights.For(inWidth, width);
            var output = new byte[width * inHeight * Channels];
            for (int y = 0; y < inHeight; y++)
            {
                for (int x = 0; x < width; x++)
                {
                    Convolve(pixels, (y * inWidth) * Channels, Channels, horizontal, x, output, ((y * width) + x) * Channels);
                }
            }

            pixels = output;
            inWidth = width;
        }

        if (height != inHeight)
        {
            var vertical = ResampleWeights.For(inHeight, height);
            var output = new byte[inWidth * height * Channels];
            for (int y = 0; y < height; y++)
            {
                for (int x = 0; x < inWidth; x++)
                {
                    Convolve(pixels, x * Channels, inWidth * Channels, vertical, y, output, ((y * inWidth) + x) * Channels);
                }
            }

            pixels = output;
        }

        return new RgbImage(width, height, pixels == image.Pixels ? (byte[])pixels.Clone() : pixels);
    }

    /// <summary>The vision tower's input for one image.</summary>
    public QwenImageProcessorOutput Process(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var config = Config;
        int height = image.Height;
        int width = image.Width;
        var resized = image;
        if (config.DoResize)
        {
            (height, width) = SmartResize(image.Height, image.Width, config.Factor, config.MinPixels, config.MaxPixels);
            resized = height == image.Height && width == image.Width ? image : ResizeBicubic(image, width, height);
        }
        else if (height % config.Factor != 0 || width % config.Factor != 0)
        {
            throw new ArgumentException(
                $"do_resize is false, so the image must already measure a multiple of patch_size * merge_size = " +
                $"{config.Factor} pixels each way; it is {width}x{height}. Resize it, or set do_resize true.",
                nameof(image));
        }

        float[] planes = Normalise(resized);
        int patch = config.PatchSize;
        int merge = config.MergeSize;
        int temporal = config.TemporalPatchSize;
        int gridH = height / patch;
        int gridW = width / patch;
        int rowLength = config.PatchValues;
        var values = new float[gridH * gridW * rowLength];
        int row = 0;
        // transformers' order: merge blocks row-major, the merge_size^2 patches inside each, then per patch
        // channel, frame, pixel row, pixel column. The frames are copies of the one image.
        for (int blockY = 0; blockY < gridH / merge; blockY++)
        {
            for (int blockX = 0; blockX < gridW / merge; blockX++)
            {
                for (int innerY = 0; innerY < merge; innerY++)
                {
                    for (int innerX = 0; innerX < merge; innerX++)
                    {
                        int top = ((blockY * merge) + innerY) * patch;
                        int left = ((blockX * merge) + innerX) * patch;
                        int at = row * rowLength;
                        for (int c = 0; c < Channels; c++)
                        {
                            for (int frame = 0; frame < temporal; frame++)
                            {
                                for (int py = 0; py < patch; py++)
                                {
                                    planes.AsSpan((((c * height) + top + py) * width) + left, patch).CopyTo(values.AsSpan(at));
                                    at += patch;
                                }
                            }
                        }

                        row++;
                    }
                }
            }
        }

        return new QwenImageProcessorOutput(values, row, rowLength, GridT: 1, gridH, gridW, height, width);
    }

    // Channel-first float32 planes: x * rescale_factor computed in float64 then stored as float32 (transformers'
    // rescale), then (x - mean) / std in float32 (its normalize).
    private float[] Normalise(RgbImage image)
    {
        var config = Config;
        int area = image.Width * image.Height;
        var planes = new float[Channels * area];
        for (int c = 0; c < Channels; c++)
        {
            float mean = (float)config.ImageMean[c];
            float std = (float)config.ImageStd[c];
            for (int i = 0; i < area; i++)
            {
                byte level = image.Pixels[(i * Channels) + c];
                float value = config.DoRescale ? (float)(level * config.RescaleFactor) : level;
                planes[(c * area) + i] = config.DoNormalize ? (value - mean) / std : value;
            }
        }

        return planes;
    }

    private static void Convolve(
        byte[] source, int origin, int stride, ResampleWeights weights, int outIndex, byte[] target, int targetAt)
    {
        int first = weights.First[outIndex];
        int count = weights.Count[outIndex];
        int kernelAt = outIndex * weights.KernelSize;
        int half = 1 << (PrecisionBits - 1);
        int red = half;
        int green = half;
        int blue = half;
        for (int k = 0; k < count; k++)
        {
            int at = origin + ((first + k) * stride);
            int weight = weights.Fixed[kernelAt + k];
            red += source[at] * weight;
            green += source[at + 1] * weight;
            blue += source[at + 2] * weight;
        }

        target[targetAt] = Clip8(red);
        target[targetAt + 1] = Clip8(green);
        target[targetAt + 2] = Clip8(blue);
    }

    private static byte Clip8(int sum) => (byte)Math.Clamp(sum >> PrecisionBits, 0, 255);

    private static double Bicubic(double x)
    {
        const double a = -0.5;
        if (x < 0.0)
        {
            x = -x;
        }

        if (x < 1.0)
        {
            return ((((a + 2.0) * x) - (a + 3.0)) * x * x) + 1;
        }

        if (x < 2.0)
        {
            return ((((x - 5) * x) + 8) * x - 4) * a;
        }

        return 0.0;
    }

    /// <summary>Per output pixel along one axis: the first input pixel, how many follow, their fixed-point weights.</summary>
    private sealed record ResampleWeights(int KernelSize, int[] First, int[] Count, int[] Fixed)
    {
        public static ResampleWeights For(int inSize, int outSize)
        {
            double scale = (double)inSize / outSize;
            double filterScale = Math.Max(scale, 1.0);
            double support = BicubicSupport * filterScale;
            int kernelSize = ((int)Math.Ceiling(support) * 2) + 1;
            var first = new int[outSize];
            var count = new int[outSize];
            var fixedWeights = new int[outSize * kernelSize];
            var weights = new double[kernelSize];
            for (int xx = 0; xx < outSize; xx++)
            {
                double center = (xx + 0.5) * scale;
                double inverse = 1.0 / filterScale;
                int min = Math.Max(0, (int)(center - support + 0.5));
                int max = Math.Min(inSize, (int)(center + support + 0.5)) - min;
                double total = 0.0;
                for (int x = 0; x < max; x++)
                {
                    double w = Bicubic((x + min - center + 0.5) * inverse);
                    weights[x] = w;
                    total += w;
                }

                for (int x = 0; x < max; x++)
                {
                    double w = total != 0.0 ? weights[x] / total : weights[x];
                    double scaled = w * (1 << PrecisionBits);
                    fixedWeights[(xx * kernelSize) + x] = (int)(w < 0 ? -0.5 + scaled : 0.5 + scaled);
                }

                first[xx] = min;
                count[xx] = max;
            }

            return new ResampleWeights(kernelSize, first, count, fixedWeights);
        }
    }
}
