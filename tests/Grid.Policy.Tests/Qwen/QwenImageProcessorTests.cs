using System.Text.Json;
using Grid.Policy.Qwen;
using Grid.Tasks.Images;

namespace Grid.Policy.Tests.Qwen;

public sealed class QwenImageProcessorTests
{
    private const int Factor = 28;
    private const int MinPixels = 3136;
    private const int MaxPixels = 50176;

    public static TheoryData<string> Checkpoints => new(QwenTextReference.Checkpoints);

    [Theory]
    [InlineData(48, 48, 56, 56)] // Grid's task images: 48 rounds to 56
    [InlineData(224, 224, 224, 224)] // already a multiple of 28, within the bounds: unchanged
    [InlineData(42, 42, 56, 56)] // 1.5 rounds to 2 (half to even, as Python's round)
    [InlineData(70, 70, 56, 56)] // 2.5 rounds to 2 (half to even)
    [InlineData(90, 150, 84, 140)]
    public void Smart_resize_rounds_each_side_to_the_nearest_multiple_of_28(int height, int width, int expectedH, int expectedW)
    {
        Assert.Equal((expectedH, expectedW), QwenImageProcessor.SmartResize(height, width, Factor, MinPixels, MaxPixels));
    }

    [Theory]
    [InlineData(200, 330, 168, 280)]
    [InlineData(1080, 1920, 168, 280)]
    [InlineData(14, 2000, 28, 672)]
    public void Smart_resize_scales_an_image_over_max_pixels_down_to_fit(int height, int width, int expectedH, int expectedW)
    {
        var (h, w) = QwenImageProcessor.SmartResize(height, width, Factor, MinPixels, MaxPixels);

        Assert.Equal((expectedH, expectedW), (h, w));
        Assert.InRange(h * w, MinPixels, MaxPixels);
    }

    [Theory]
    [InlineData(30, 40, 56, 84)]
    [InlineData(10, 10, 56, 56)]
    [InlineData(5, 7, 56, 84)]
    public void Smart_resize_scales_an_image_under_min_pixels_up_to_reach_it(int height, int width, int expectedH, int expectedW)
    {
        var (h, w) = QwenImageProcessor.SmartResize(height, width, Factor, MinPixels, MaxPixels);

        Assert.Equal((expectedH, expectedW), (h, w));
        Assert.True(h * w >= MinPixels);
    }

    [Fact]
    public void Smart_resize_keeps_a_side_of_at_least_one_factor_when_shrinking_a_thin_image()
    {
        // transformers' floor would give a width of 0; it keeps 28 (and so overshoots max_pixels, as it does).
        Assert.Equal((2716, 28), QwenImageProcessor.SmartResize(3000, 20, Factor, MinPixels, MaxPixels));
    }

    [Theory]
    [InlineData(10, 2001)]
    [InlineData(3000, 14)]
    public void Smart_resize_refuses_an_aspect_ratio_over_200(int height, int width)
    {
        var error = Assert.Throws<ArgumentException>(() => QwenImageProcessor.SmartResize(height, width, Factor, MinPixels, MaxPixels));

        Assert.Contains("at most 200", error.Message);
    }

    [Theory]
    [MemberData(nameof(Checkpoints))]
    public void Pixel_values_grid_and_resized_size_equal_the_reference_exactly(string checkpoint)
    {
        var processor = QwenImageProcessor.FromCheckpoint(QwenTestData.PathOf(checkpoint));
        var cases = QwenTextReference.CasesOf(checkpoint).Where(c => c.Image is not null).ToList();

        Assert.NotEmpty(cases);
        Assert.All(cases, c =>
        {
            var output = processor.Process(QwenTextReference.LoadImage(c.Image!));

            Assert.Equal(c.ResizedHw, new[] { output.ResizedHeight, output.ResizedWidth });
            Assert.Equal(c.ImageGridThw, new[] { output.GridT, output.GridH, output.GridW });
            Assert.Equal(c.PixelShape, new[] { output.Patches, output.PatchValues });
            Assert.Equal(c.PixelValues, output.PixelValues);
        });
    }

    [Theory]
    [MemberData(nameof(Checkpoints))]
    public void The_resized_8_bit_levels_equal_pils_bicubic(string checkpoint)
    {
        var processor = QwenImageProcessor.FromCheckpoint(QwenTestData.PathOf(checkpoint));
        var config = processor.Config;

        Assert.All(QwenTextReference.CasesOf(checkpoint).Where(c => c.Image is not null), c =>
        {
            var image = QwenTextReference.LoadImage(c.Image!);
            var resized = QwenImageProcessor.ResizeBicubic(image, c.ResizedHw![1], c.ResizedHw[0]);
            var pil = LevelsOf(c, config);

            Assert.Equal(pil.Pixels, resized.Pixels);
        });
    }

    [Fact]
    public void Both_frames_of_a_still_image_are_the_same_pixels()
    {
        var processor = QwenImageProcessor.FromCheckpoint(QwenTestData.PathOf("qwen2_vl_tiny"));
        var output = processor.Process(QwenTextReference.LoadImage("images/square_48.png"));
        int frame = 14 * 14;

        for (int row = 0; row < output.Patches; row++)
        {
            for (int c = 0; c < 3; c++)
            {
                var first = output.PixelValues.AsSpan((row * output.PatchValues) + (c * 2 * frame), frame);
                var second = output.PixelValues.AsSpan((row * output.PatchValues) + (((c * 2) + 1) * frame), frame);
                Assert.True(first.SequenceEqual(second));
            }
        }
    }

    [Fact]
    public void Resizing_to_the_same_size_leaves_the_pixels_as_they_are()
    {
        var image = QwenTextReference.LoadImage("images/square_48.png");

        Assert.Equal(image, QwenImageProcessor.ResizeBicubic(image, image.Width, image.Height));
    }

    [Fact]
    public void A_flat_colour_stays_that_colour_through_the_bicubic_resize()
    {
        var image = RgbImage.Filled(33, 17, new Rgb(200, 7, 255));

        var resized = QwenImageProcessor.ResizeBicubic(image, 84, 28);

        Assert.Equal(RgbImage.Filled(84, 28, new Rgb(200, 7, 255)), resized);
    }

    [Fact]
    public void The_config_takes_size_bounds_and_lets_min_and_max_pixels_override_them()
    {
        using var sized = JsonDocument.Parse("{\"size\": {\"shortest_edge\": 100, \"longest_edge\": 9000}}");
        using var both = JsonDocument.Parse(
            "{\"size\": {\"shortest_edge\": 100, \"longest_edge\": 9000}, \"min_pixels\": 200, \"max_pixels\": 8000}");

        var fromSize = QwenImageProcessorConfig.Parse(sized.RootElement);
        var fromBoth = QwenImageProcessorConfig.Parse(both.RootElement);

        Assert.Equal((100, 9000), (fromSize.MinPixels, fromSize.MaxPixels));
        Assert.Equal((200, 8000), (fromBoth.MinPixels, fromBoth.MaxPixels));
    }

    [Fact]
    public void The_config_of_a_tiny_checkpoint_is_read_from_its_preprocessor_config()
    {
        var config = QwenImageProcessorConfig.FromCheckpoint(QwenTestData.PathOf("qwen2_vl_tiny"));

        Assert.Equal((MinPixels, MaxPixels, 14, 2, 2), (config.MinPixels, config.MaxPixels, config.PatchSize,
            config.TemporalPatchSize, config.MergeSize));
        Assert.Equal(1176, config.PatchValues);
    }

    [Fact]
    public void A_resample_filter_other_than_bicubic_is_refused()
    {
        using var json = JsonDocument.Parse("{\"resample\": 2}");

        var error = Assert.Throws<ArgumentException>(() => QwenImageProcessorConfig.Parse(json.RootElement));

        Assert.Contains("\"resample\": 3", error.Message);
    }

    /// <summary>
    /// The reference's resized image, recovered from its pixel values: level = (v * std + mean) * 255, which is
    /// within 1e-3 of an integer for float32 values.
    /// </summary>
    private static RgbImage LevelsOf(QwenTextReference.Case c, QwenImageProcessorConfig config)
    {
        int height = c.ResizedHw![0];
        int width = c.ResizedHw[1];
        var pixels = new byte[height * width * 3];
        int patch = config.PatchSize;
        int merge = config.MergeSize;
        int gridW = width / patch;
        for (int row = 0; row < c.PixelShape![0]; row++)
        {
            int block = row / (merge * merge);
            int inner = row % (merge * merge);
            int top = (((block / (gridW / merge)) * merge) + (inner / merge)) * patch;
            int left = (((block % (gridW / merge)) * merge) + (inner % merge)) * patch;
            for (int ch = 0; ch < 3; ch++)
            {
                for (int py = 0; py < patch; py++)
                {
                    for (int px = 0; px < patch; px++)
                    {
                        double v = c.PixelValues![(row * c.PixelShape[1]) + (ch * config.TemporalPatchSize * patch * patch) + (py * patch) + px];
                        double level = ((v * config.ImageStd[ch]) + config.ImageMean[ch]) * 255;
                        Assert.True(Math.Abs(level - Math.Round(level)) < 1e-3, $"{c.Name}: {level} is not an 8-bit level");
                        pixels[((((top + py) * width) + left + px) * 3) + ch] = (byte)Math.Round(level);
                    }
                }
            }
        }

        return new RgbImage(width, height, pixels);
    }
}
