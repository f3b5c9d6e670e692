using Grid.Tasks.Images;

namespace Grid.Tasks.Tests.Images;

public sealed class ImageCanvasTests
{
    private static readonly Rgb s_white = new(255, 255, 255);
    private static readonly Rgb s_black = new(0, 0, 0);

    [Fact]
    public void A_rectangle_paints_the_pixels_whose_centres_it_covers()
    {
        var canvas = new ImageCanvas(8, 8, s_white);
        canvas.FillRectangle(2, 2, 5, 4, s_black);
        var image = canvas.ToImage();
        for (int y = 0; y < 8; y++)
        {
            for (int x = 0; x < 8; x++)
            {
                Assert.Equal(x is >= 2 and <= 4 && y is >= 2 and <= 3 ? s_black : s_white, image[x, y]);
            }
        }
    }

    [Fact]
    public void A_quarter_sector_paints_only_its_quadrant()
    {
        var canvas = new ImageCanvas(20, 20, s_white);
        canvas.FillSector(10, 10, 8, fromDegrees: 0, sweepDegrees: 90, s_black); // up and to the right
        var image = canvas.ToImage();
        Assert.Equal(s_black, image[13, 7]);
        Assert.Equal(s_white, image[6, 7]);
        Assert.Equal(s_white, image[13, 13]);
    }

    [Fact]
    public void A_reflex_sector_paints_everything_but_the_missing_quadrant()
    {
        var canvas = new ImageCanvas(20, 20, s_white);
        canvas.FillSector(10, 10, 8, fromDegrees: 90, sweepDegrees: 270, s_black);
        var image = canvas.ToImage();
        Assert.Equal(s_white, image[13, 7]);
        Assert.Equal(s_black, image[6, 7]);
        Assert.Equal(s_black, image[13, 13]);
        Assert.Equal(s_black, image[6, 13]);
    }

    /// <summary>
    /// DrawLine tests only the pixels near the line in each row; it must paint exactly the pixels whose centres lie within
    /// half the width of the segment, which the brute force below finds by testing every pixel of the image.
    /// </summary>
    [Fact]
    public void A_line_paints_exactly_the_pixel_centres_within_half_its_width_of_the_segment()
    {
        var random = new Random(7);
        const int size = 48;
        for (int line = 0; line < 400; line++)
        {
            double x0 = (random.NextDouble() * 60) - 6, y0 = (random.NextDouble() * 60) - 6;
            // Steep, shallow, horizontal, vertical and zero-length segments, at random and on exact pixel coordinates.
            (double x1, double y1) = (line % 5) switch
            {
                0 => (x0, (random.NextDouble() * 60) - 6),
                1 => ((random.NextDouble() * 60) - 6, y0),
                2 => (x0, y0),
                3 => (Math.Round(x0) + 0.5 + random.Next(-20, 20), Math.Round(y0) + random.Next(-3, 3)),
                _ => ((random.NextDouble() * 60) - 6, (random.NextDouble() * 60) - 6),
            };
            double width = 0.5 + (random.NextDouble() * 4);
            var canvas = new ImageCanvas(size, size, s_white);
            canvas.DrawLine(x0, y0, x1, y1, width, s_black);
            var image = canvas.ToImage();

            double half = width / 2, dx = x1 - x0, dy = y1 - y0, lengthSquared = (dx * dx) + (dy * dy);
            AssertPaintedExactly(image, $"line {line} ({x0}, {y0}) -> ({x1}, {y1}) width {width}", (px, py) =>
            {
                double t = lengthSquared == 0 ? 0 : Math.Clamp((((px - x0) * dx) + ((py - y0) * dy)) / lengthSquared, 0, 1);
                double ex = px - (x0 + (t * dx)), ey = py - (y0 + (t * dy));
                return (ex * ex) + (ey * ey) <= half * half;
            });
        }
    }

    [Fact]
    public void A_finished_canvas_hands_out_its_image_and_refuses_more_paint()
    {
        var canvas = new ImageCanvas(8, 8, s_white);
        canvas.FillRectangle(0, 0, 2, 2, s_black);
        var image = canvas.Finish();

        Assert.Equal(s_black, image[1, 1]);
        var error = Assert.Throws<InvalidOperationException>(() => canvas.FillRectangle(4, 4, 6, 6, s_black));
        Assert.Contains("new canvas", error.Message);
        Assert.Equal(s_white, image[5, 5]);
    }

    /// <summary>
    /// Circles, sectors and arcs test only the pixels of each row's chord of their disk; they must paint exactly the
    /// pixels a test of every pixel of the image finds (the sector test below restates ImageCanvas's).
    /// </summary>
    [Fact]
    public void Round_shapes_paint_exactly_the_pixel_centres_inside_them()
    {
        var random = new Random(11);
        const int size = 48;
        for (int shape = 0; shape < 300; shape++)
        {
            double cx = (random.NextDouble() * 60) - 6, cy = (random.NextDouble() * 60) - 6;
            double radius = shape % 7 == 0 ? Math.Round(random.NextDouble() * 10) : 0.5 + (random.NextDouble() * 20);
            double from = random.NextDouble() * 360, sweep = random.NextDouble() * 400; // >= 360 is a full turn
            double width = 0.5 + (random.NextDouble() * 3);
            var canvas = new ImageCanvas(size, size, s_white);
            Func<double, double, bool> inside;
            switch (shape % 3)
            {
                case 0:
                    canvas.FillCircle(cx, cy, radius, s_black);
                    inside = (x, y) => Square(x - cx) + Square(y - cy) <= radius * radius;
                    break;
                case 1:
                    canvas.FillSector(cx, cy, radius, from, sweep, s_black);
                    inside = (x, y) => Square(x - cx) + Square(y - cy) <= radius * radius && InSector(cx, cy, from, sweep, x, y);
                    break;
                default:
                    canvas.DrawArc(cx, cy, radius, from, sweep, width, s_black);
                    double outer = radius + (width / 2), inner = Math.Max(0, radius - (width / 2));
                    inside = (x, y) =>
                    {
                        double d = Square(x - cx) + Square(y - cy);
                        return d <= outer * outer && d >= inner * inner && InSector(cx, cy, from, sweep, x, y);
                    };
                    break;
            }

            AssertPaintedExactly(canvas.ToImage(), $"shape {shape} at ({cx}, {cy}) radius {radius}", inside);
        }

        static double Square(double v) => v * v;
    }

    /// <summary>Every pixel is black exactly when <paramref name="covers"/> holds at its centre (x + 0.5, y + 0.5).</summary>
    private static void AssertPaintedExactly(RgbImage image, string shape, Func<double, double, bool> covers)
    {
        for (int y = 0; y < image.Height; y++)
        {
            for (int x = 0; x < image.Width; x++)
            {
                bool covered = covers(x + 0.5, y + 0.5);
                Assert.True((covered ? s_black : s_white) == image[x, y],
                    $"{shape}: pixel ({x}, {y}) should be {(covered ? "painted" : "blank")}");
            }
        }
    }

    private static bool InSector(double cx, double cy, double fromDegrees, double sweepDegrees, double x, double y)
    {
        if (sweepDegrees >= 360)
        {
            return true;
        }

        var (ux, uy) = ImageCanvas.Direction(fromDegrees);
        var (vx, vy) = ImageCanvas.Direction(fromDegrees + sweepDegrees);
        double px = x - cx, py = cy - y;
        bool afterFrom = (ux * py) - (uy * px) >= 0;
        bool beforeTo = (px * vy) - (py * vx) >= 0;
        return sweepDegrees <= 180 ? afterFrom && beforeTo : afterFrom || beforeTo;
    }
}
