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
        Paint(centerX - radius, centerY - radius, centerX + radius, centerY + radius, color,
            new Ring(centerX, centerY, radius, inner: 0, Sector.Whole));

    public void FillRectangle(double left, double top, double right, double bottom, Rgb color) =>
        Paint(left, top, right, bottom, color, new Box(left, top, right, bottom));

    /// <summary>Fills a convex polygon given in either winding order.</summary>
    public void FillConvexPolygon(IReadOnlyList<(double X, double Y)> corners, Rgb color)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(corners.Count, 3, nameof(corners));
        double left = corners.Min(c => c.X), right = corners.Max(c => c.X);
        double top = corners.Min(c => c.Y), bottom = corners.Max(c => c.Y);
        Paint(left, top, right, bottom, color, new ConvexPolygon(corners));
    }

    /// <summary>A straight stroke with round caps: every pixel centre within width / 2 of the segment.</summary>
    public void DrawLine(double x0, double y0, double x1, double y1, double width, Rgb color)
    {
        double half = width / 2;
        Paint(Math.Min(x0, x1) - half, Math.Min(y0, y1) - half, Math.Max(x0, x1) + half, Math.Max(y0, y1) + half, color,
            new Stroke(x0, y0, x1, y1, half));
    }

    /// <summary>A pie slice from <paramref name="fromDegrees"/> counter-clockwise through
    /// <paramref name="sweepDegrees"/>.</summary>
    public void FillSector(double centerX, double centerY, double radius, double fromDegrees, double sweepDegrees, Rgb color) =>
        Paint(centerX - radius, centerY - radius, centerX + radius, centerY + radius, color,
            new Ring(centerX, centerY, radius, inner: 0, new Sector(centerX, centerY, fromDegrees, sweepDegrees)));

    /// <summary>The rim of a sector: a ring of the given width around <paramref name="radius"/>, within the angles.</summary>
    public void DrawArc(double centerX, double centerY, double radius, double fromDegrees, double sweepDegrees, double width,
        Rgb color)
    {
        double outer = radius + (width / 2), inner = Math.Max(0, radius - (width / 2));
        Paint(centerX - outer, centerY - outer, centerX + outer, centerY + outer, color,
            new Ring(centerX, centerY, outer, inner, new Sector(centerX, centerY, fromDegrees, sweepDegrees)));
    }

    /// <summary>Unit direction of an angle, rounded to 1/4096 so that a last-bit difference in a platform's
    /// sin/cos cannot move a pixel.</summary>
    public static (double X, double Y) Direction(double degrees)
    {
        double radians = degrees * Math.PI / 180;
        return (Math.Round(Math.Cos(radians) * 4096) / 4096, Math.Round(Math.Sin(radians) * 4096) / 4096);
    }

    /// <summary>
    /// Paints every pixel of the box whose centre <paramref name="shape"/> covers. A struct shape, so the per-pixel
    /// test is a direct (inlinable) call and painting allocates nothing.
    /// </summary>
    private void Paint<TShape>(double left, double top, double right, double bottom, Rgb color, in TShape shape)
        where TShape : struct, IShape
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
            if (shape.Near(y + 0.5, out double nearFrom, out double nearTo))
            {
                from = Math.Max(x0, (int)Math.Floor(nearFrom));
                to = Math.Min(x1, (int)Math.Ceiling(nearTo));
            }

            for (int x = from; x <= to; x++)
            {
                if (shape.Covers(x + 0.5, y + 0.5))
                {
                    _image[x, y] = color;
                }
            }
        }
    }

    private interface IShape
    {
        /// <summary>Whether the pixel centre (x, y) is inside.</summary>
        bool Covers(double x, double y);

        /// <summary>
        /// For a row's pixel-centre y, an x range outside which no pixel of that row is covered (false: no such range
        /// is known, test the whole box). Only narrows what is tested; <see cref="Covers"/> still decides each pixel.
        /// </summary>
        bool Near(double y, out double from, out double to);
    }

    private readonly struct Box(double left, double top, double right, double bottom) : IShape
    {
        public bool Covers(double x, double y) => x >= left && x <= right && y >= top && y <= bottom;

        public bool Near(double y, out double from, out double to)
        {
            (from, to) = (0, 0);
            return false;
        }
    }

    private readonly struct ConvexPolygon(IReadOnlyList<(double X, double Y)> corners) : IShape
    {
        public bool Covers(double x, double y)
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
        }

        public bool Near(double y, out double from, out double to)
        {
            (from, to) = (0, 0);
            return false;
        }
    }

    /// <summary>Pixel centres within <c>half</c> of the segment (x0, y0)-(x1, y1).</summary>
    private readonly struct Stroke : IShape
    {
        private readonly double _x0, _y0, _dx, _dy, _lengthSquared, _half, _reach;

        public Stroke(double x0, double y0, double x1, double y1, double half)
        {
            (_x0, _y0, _dx, _dy, _half) = (x0, y0, x1 - x0, y1 - y0, half);
            _lengthSquared = (_dx * _dx) + (_dy * _dy);
            // Only pixels near the line can be covered: in each row, test those within half + 1 px (horizontally) of
            // the infinite line's band instead of the whole bounding box, which for a diagonal is the whole image.
            _reach = _dy != 0 && _lengthSquared != 0 ? Math.Abs(half * Math.Sqrt(_lengthSquared) / _dy) + 1 : double.NaN;
        }

        public bool Covers(double x, double y)
        {
            double t = _lengthSquared == 0 ? 0 : Math.Clamp((((x - _x0) * _dx) + ((y - _y0) * _dy)) / _lengthSquared, 0, 1);
            double ex = x - (_x0 + (t * _dx)), ey = y - (_y0 + (t * _dy));
            return (ex * ex) + (ey * ey) <= _half * _half;
        }

        public bool Near(double y, out double from, out double to)
        {
            if (double.IsNaN(_reach))
            {
                (from, to) = (0, 0);
                return false;
            }

            double centre = _x0 + ((y - _y0) * _dx / _dy);
            (from, to) = (centre - _reach, centre + _reach);
            return true;
        }
    }

    /// <summary>Pixel centres between the radii <c>inner</c> and <c>outer</c> (inclusive) and within the sector.</summary>
    private readonly struct Ring(double centerX, double centerY, double outer, double inner, Sector sector) : IShape
    {
        public bool Covers(double x, double y)
        {
            double dx = x - centerX, dy = y - centerY, distanceSquared = (dx * dx) + (dy * dy);
            return distanceSquared <= outer * outer && distanceSquared >= inner * inner && sector.Contains(x, y);
        }

        /// <summary>
        /// Round shapes cover nothing in a row beyond the outer disk: the row's chord, widened by 1 px so rounding
        /// cannot lose a pixel.
        /// </summary>
        public bool Near(double y, out double from, out double to)
        {
            double dy = y - centerY, halfChord = Math.Sqrt(Math.Max(0, (outer * outer) - (dy * dy)));
            (from, to) = (centerX - halfChord - 1, centerX + halfChord + 1);
            return true;
        }
    }

    /// <summary>The angles from <c>fromDegrees</c> counter-clockwise through <c>sweepDegrees</c>, seen from the centre.</summary>
    private readonly struct Sector
    {
        public static readonly Sector Whole = new(0, 0, 0, 360);

        private readonly double _centerX, _centerY, _ux, _uy, _vx, _vy;
        private readonly bool _whole, _convex;

        public Sector(double centerX, double centerY, double fromDegrees, double sweepDegrees)
        {
            (_centerX, _centerY, _whole, _convex) = (centerX, centerY, sweepDegrees >= 360, sweepDegrees <= 180);
            (_ux, _uy) = Direction(fromDegrees);
            (_vx, _vy) = Direction(fromDegrees + sweepDegrees);
        }

        public bool Contains(double x, double y)
        {
            if (_whole)
            {
                return true;
            }

            double px = x - _centerX, py = _centerY - y; // y up
            bool afterFrom = (_ux * py) - (_uy * px) >= 0;
            bool beforeTo = (px * _vy) - (py * _vx) >= 0;
            return _convex ? afterFrom && beforeTo : afterFrom || beforeTo;
        }
    }
}
