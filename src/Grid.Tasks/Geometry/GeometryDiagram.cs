using Grid.Tasks.Images;

namespace Grid.Tasks.Geometry;

/// <summary>
/// A diagram in math coordinates (y up, angles counter-clockwise in degrees), drawn by fitting its segments into
/// the image after an optional rotation and mirror. Known angles get a blue arc, the unknown x a red wedge.
/// </summary>
internal sealed class GeometryDiagram
{
    public static readonly Rgb Paper = new(255, 255, 255);
    public static readonly Rgb Ink = new(0, 0, 0);
    public static readonly Rgb KnownMark = new(30, 60, 230);
    public static readonly Rgb UnknownMark = new(220, 30, 30);

    private const double LineWidth = 1.6;
    private const double KnownArcRadius = 8;
    private const double KnownArcWidth = 1.4;
    private const double UnknownWedgeRadius = 7;
    private const double Margin = 4;

    private readonly List<((double X, double Y) From, (double X, double Y) To)> _segments = [];
    private readonly List<((double X, double Y) Vertex, double FromDegrees, double SweepDegrees, bool IsUnknown)> _angles =
        [];

    public void Segment((double X, double Y) from, (double X, double Y) to) => _segments.Add((from, to));

    public void Ray((double X, double Y) from, double degrees, double length)
    {
        var (dx, dy) = ImageCanvas.Direction(degrees);
        Segment(from, (from.X + (dx * length), from.Y + (dy * length)));
    }

    public void Angle((double X, double Y) vertex, double fromDegrees, double sweepDegrees, bool isUnknown) =>
        _angles.Add((vertex, fromDegrees, sweepDegrees, isUnknown));

    /// <summary>Multiplies the radius of every angle mark: fans of rays from one point have room for larger marks.</summary>
    public double MarkScale { get; set; } = 1;

    public RgbImage Render(int size, double rotationDegrees, bool mirror)
    {
        var (cos, sin) = ImageCanvas.Direction(rotationDegrees);
        (double X, double Y) Turn((double X, double Y) p)
        {
            double x = (p.X * cos) - (p.Y * sin), y = (p.X * sin) + (p.Y * cos);
            return (mirror ? -x : x, y);
        }

        (double From, double Sweep) TurnAngle(double from, double sweep)
        {
            from += rotationDegrees;
            return mirror ? (180 - from - sweep, sweep) : (from, sweep);
        }

        var points = _segments.SelectMany(s => new[] { Turn(s.From), Turn(s.To) }).ToList();
        double left = points.Min(p => p.X), right = points.Max(p => p.X);
        double bottom = points.Min(p => p.Y), top = points.Max(p => p.Y);
        double scale = (size - (2 * Margin)) / Math.Max(right - left, top - bottom);
        double offsetX = (size - ((right - left) * scale)) / 2, offsetY = (size - ((top - bottom) * scale)) / 2;
        // Snap to 1/64 px so that a last-bit difference in the trigonometry cannot move a pixel.
        (double X, double Y) ToPixels((double X, double Y) p) => (
            Math.Round((offsetX + ((Turn(p).X - left) * scale)) * 64) / 64,
            Math.Round((size - offsetY - ((Turn(p).Y - bottom) * scale)) * 64) / 64);

        var canvas = new ImageCanvas(size, size, Paper);
        foreach (var (from, to) in _segments)
        {
            var (x0, y0) = ToPixels(from);
            var (x1, y1) = ToPixels(to);
            canvas.DrawLine(x0, y0, x1, y1, LineWidth, Ink);
        }

        // Marks go over the lines, so that even a narrow angle shows its colour at the vertex.
        foreach (var (vertex, fromDegrees, sweepDegrees, isUnknown) in _angles)
        {
            var (x, y) = ToPixels(vertex);
            var (from, sweep) = TurnAngle(fromDegrees, sweepDegrees);
            if (isUnknown)
            {
                canvas.FillSector(x, y, UnknownWedgeRadius * MarkScale, from, sweep, UnknownMark);
            }
            else
            {
                canvas.DrawArc(x, y, KnownArcRadius * MarkScale, from, sweep, KnownArcWidth, KnownMark);
            }
        }

        return canvas.Finish();
    }
}
