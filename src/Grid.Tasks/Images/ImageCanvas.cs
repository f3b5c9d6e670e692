namespace Grid.Tasks.Images;

/// <summary>
/// A small managed rasterizer: hard-edged shapes, no antialiasing, a pixel is painted when its centre
/// (x + 0.5, y + 0.5) lies inside the shape. Pixel coordinates have y pointing down; angles are in degrees,
/// counter-clockwise with y pointing up, as in a geometry diagram. Only +, -, * and comparisons decide coverage,
/// so the same shape paints the same pixels everywhere.
/// </summary>
public sealed class ImageCanvas
{
    private readonly RgbImage _image;
    private bool _finished;

    public ImageCanvas(int width, int height, Rgb background)
    {
        _image = RgbImage.Filled(width, height, background);
    }

    public int Width => _image.Width;

    public int Height => _image.Height;

    /// <summary>A copy of the pixels painted so far.</summary>
    public RgbImage ToImage() => new(_image.Width, _image.Height, (byte[])_image.Pixels.Clone());

    /// <summary>
    /// The painted image itself, not a copy, for a canvas that is done: painting on it afterwards throws. Tasks render
    /// a prompt's image once per group attempt, and the copy was most of what rendering allocated.
    /// </summary>
    public RgbImage Finish()
    {
        _finished = true;
        return _image;
    }

    public void FillCircle(double centerX, double centerY, double radius, Rgb color) =>
        Paint(centerX - radius, centerY - radius, centerX + radius, centerY + radius, color, (x, y) =>
        {
            double dx = x - centerX, dy = y - centerY;
            return (dx * dx) + (dy * dy) <= radius * radius;
        }, NearDisk(centerX, centerY, radius));

    public void FillRectangle(double left, double top, double right, double bottom, Rgb color) =>
        Paint(left, top, right, bottom, color, (x, y) => x >= left && x <= right && y >= top && y <= bottom);

    /// <summary>Fills a convex polygon given in either winding order.</summary>
    public void FillConvexPolygon(IReadOnlyList<(double X, double Y)> corners, Rgb color)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(corners.Count, 3, nameof(corners));
        double left = corners.Min(c => c.X), right = corners.Max(c => c.X);
        double top = corners.Min(c => c.Y), bottom = corners.Max(c => c.Y);
        Paint(left, top, right, bottom, color, (x, y) =>
        {
            bool anyPositive = false, anyNegative = false;
            for (int i = 0; i < corners.Count; i++)
            {
                var (ax, ay) = corners[i];
                var (bx, by) = corners[(i + 1) % corners.Count];
                double cross = ((bx - ax) * (y - ay)) - ((by - ay) * (x - ax));
                anyPositive |= cross > 0;
                anyNegative |= cross < 0;
            }

            return !(anyPositive && anyNegative);
        });
    }

    /// <summary>A straight stroke with round caps: every pixel centre within width / 2 of the segment.</summary>
    public void DrawLine(double x0, double y0, double x1, double y1, double width, Rgb color)
    {
        double half = width / 2;
        double dx = x1 - x0, dy = y1 - y0, lengthSquared = (dx * dx) + (dy * dy);
        // Only pixels near the line can be covered: in each row, test those within half + 1 px (horizontally) of the
        // infinite line's band instead of the whole bounding box, which for a diagonal is the whole image. The test
        // itself is unchanged, so the same pixels are painted.
        Func<double, (double From, double To)>? near = null;
        if (dy != 0 && lengthSquared != 0)
        {
            double reach = Math.Abs(half * Math.Sqrt(lengthSquared) / dy) + 1;
            near = y =>
            {
                double centre = x0 + ((y - y0) * dx / dy);
                return (centre - reach, centre + reach);
            };
        }

        Paint(Math.Min(x0, x1) - half, Math.Min(y0, y1) - half, Math.Max(x0, x1) + half, Math.Max(y0, y1) + half, color,
            (x, y) =>
            {
                double t = lengthSquared == 0 ? 0 : Math.Clamp((((x - x0) * dx) + ((y - y0) * dy)) / lengthSquared, 0, 1);
                double ex = x - (x0 + (t * dx)), ey = y - (y0 + (t * dy));
                return (ex * ex) + (ey * ey) <= half * half;
            }, near);
    }

    /// <summary>A pie slice from <paramref name="fromDegrees"/> counter-clockwise through
    /// <paramref name="sweepDegrees"/>.</summary>
    public void FillSector(double centerX, double centerY, double radius, double fromDegrees, double sweepDegrees, Rgb color)
    {
        var inside = SectorTest(centerX, centerY, fromDegrees, sweepDegrees);
        Paint(centerX - radius, centerY - radius, centerX + radius, centerY + radius, color, (x, y) =>
        {
            double dx = x - centerX, dy = y - centerY;
            return (dx * dx) + (dy * dy) <= radius * radius && inside(x, y);
        }, NearDisk(centerX, centerY, radius));
    }

    /// <summary>The rim of a sector: a ring of the given width around <paramref name="radius"/>, within the angles.</summary>
    public void DrawArc(double centerX, double centerY, double radius, double fromDegrees, double sweepDegrees, double width,
        Rgb color)
    {
        var inside = SectorTest(centerX, centerY, fromDegrees, sweepDegrees);
        double outer = radius + (width / 2), inner = Math.Max(0, radius - (width / 2));
        Paint(centerX - outer, centerY - outer, centerX + outer, centerY + outer, color, (x, y) =>
        {
            double dx = x - centerX, dy = y - centerY, distanceSquared = (dx * dx) + (dy * dy);
            return distanceSquared <= outer * outer && distanceSquared >= inner * inner && inside(x, y);
        }, NearDisk(centerX, centerY, outer));
    }

    /// <summary>Unit direction of an angle, rounded to 1/4096 so that a last-bit difference in a platform's
    /// sin/cos cannot move a pixel.</summary>
    public static (double X, double Y) Direction(double degrees)
    {
        double radians = degrees * Math.PI / 180;
        return (Math.Round(Math.Cos(radians) * 4096) / 4096, Math.Round(Math.Sin(radians) * 4096) / 4096);
    }

    private static Func<double, double, bool> SectorTest(double centerX, double centerY, double fromDegrees,
        double sweepDegrees)
    {
        if (sweepDegrees >= 360)
        {
            return (_, _) => true;
        }

        var (ux, uy) = Direction(fromDegrees);
        var (vx, vy) = Direction(fromDegrees + sweepDegrees);
        return (x, y) =>
        {
            double px = x - centerX, py = centerY - y; // y up
            bool afterFrom = (ux * py) - (uy * px) >= 0;
            bool beforeTo = (px * vy) - (py * vx) >= 0;
            return sweepDegrees <= 180 ? afterFrom && beforeTo : afterFrom || beforeTo;
        };
    }

    /// <summary>
    /// Round shapes cover nothing in a row beyond the disk of <paramref name="radius"/>: the row's chord, widened by 1 px
    /// so rounding cannot lose a pixel (the shape's own test still decides each pixel).
    /// </summary>
    private static Func<double, (double From, double To)> NearDisk(double centerX, double centerY, double radius) => y =>
    {
        double dy = y - centerY, halfChord = Math.Sqrt(Math.Max(0, (radius * radius) - (dy * dy)));
        return (centerX - halfChord - 1, centerX + halfChord + 1);
    };

    /// <param name="near">Optional: for a row's pixel-centre y, an x range outside which no pixel of that row is covered.</param>
    private void Paint(double left, double top, double right, double bottom, Rgb color, Func<double, double, bool> covers,
        Func<double, (double From, double To)>? near = null)
    {
        if (_finished)
        {
            throw new InvalidOperationException("This canvas was finished and handed its image out; paint on a new canvas.");
        }

        int x0 = Math.Max(0, (int)Math.Floor(left)), x1 = Math.Min(Width - 1, (int)Math.Ceiling(right));
        int y0 = Math.Max(0, (int)Math.Floor(top)), y1 = Math.Min(Height - 1, (int)Math.Ceiling(bottom));
        for (int y = y0; y <= y1; y++)
        {
            int from = x0, to = x1;
            if (near?.Invoke(y + 0.5) is var (nearFrom, nearTo))
            {
                from = Math.Max(x0, (int)Math.Floor(nearFrom));
                to = Math.Min(x1, (int)Math.Ceiling(nearTo));
            }

            for (int x = from; x <= to; x++)
            {
                if (covers(x + 0.5, y + 0.5))
                {
                    _image[x, y] = color;
                }
            }
        }
    }
}
