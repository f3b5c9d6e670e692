using Grid.Tasks.Images;
using Grid.Tasks.Randomness;

namespace Grid.Tasks.Geometry;

/// <summary>
/// Angle chasing in the spirit of GeoQA: the question gives two angles and asks for x, always in the same words,
/// and the diagram's kind decides the relation (triangle, around a point, split right angle, exterior angle).
/// Diagrams are drawn to scale and randomly mirrored (angles around a point also rotated); known angles are
/// marked with blue arcs, x with a red wedge.
/// </summary>
public sealed class GeometryTask : IVisualTask
{
    public const int DefaultImageSize = 48;

    private static readonly GeometryKind[] s_kinds = Enum.GetValues<GeometryKind>();

    public string Name => "geometry";

    public int ImageSize => DefaultImageSize;

    public TaskExample Generate(long seed, long index)
    {
        var random = new ExampleRandom(Name, seed, index);
        var problem = SampleProblem(random, random.Pick(s_kinds));
        return new TaskExample($"{Name}-{index:D6}", Name, problem.Question, problem.Unknown.ToString(),
            Draw(problem, random.Next(24) * 15, random.NextBool()), problem.Reasoning);
    }

    /// <summary>The problem behind <see cref="Generate"/> for the same (seed, index).</summary>
    public GeometryProblem GenerateProblem(long seed, long index)
    {
        var random = new ExampleRandom(Name, seed, index);
        return SampleProblem(random, random.Pick(s_kinds));
    }

    /// <summary>The diagram of <paramref name="problem"/> in its usual orientation.</summary>
    public RgbImage Render(GeometryProblem problem) => Draw(problem, 0, mirror: false);

    private RgbImage Draw(GeometryProblem problem, double rotationDegrees, bool mirror)
    {
        ArgumentNullException.ThrowIfNull(problem);
        var diagram = new GeometryDiagram();
        double a = problem.A, b = problem.B, x = problem.Unknown;
        switch (problem.Kind)
        {
            case GeometryKind.Triangle:
                {
                    // Triangles stand on a level base (only mirrored), the way textbooks draw them.
                    rotationDegrees = 0;
                    var (ax, ay) = ImageCanvas.Direction(a);
                    double sideAc = Math.Sin(b * Math.PI / 180) / Math.Sin((a + b) * Math.PI / 180);
                    (double, double) pa = (0, 0), pb = (1, 0), pc = (ax * sideAc, ay * sideAc);
                    diagram.Segment(pa, pb);
                    diagram.Segment(pb, pc);
                    diagram.Segment(pc, pa);
                    diagram.Angle(pa, 0, a, isUnknown: false);
                    diagram.Angle(pb, 180 - b, b, isUnknown: false);
                    diagram.Angle(pc, 180 + a, x, isUnknown: true);
                    break;
                }

            case GeometryKind.AroundPoint:
                diagram.MarkScale = 1.3;
                diagram.Ray((0, 0), 0, 1);
                diagram.Ray((0, 0), a, 1);
                diagram.Ray((0, 0), a + b, 1);
                diagram.Angle((0, 0), 0, a, isUnknown: false);
                diagram.Angle((0, 0), a, b, isUnknown: false);
                diagram.Angle((0, 0), a + b, x, isUnknown: true);
                break;

            case GeometryKind.RightAngleSplit:
                // Upright, so the two outer rays read as a right angle without a corner mark to hide x.
                rotationDegrees = 0;
                diagram.MarkScale = 1.6;
                diagram.Ray((0, 0), 0, 1);
                diagram.Ray((0, 0), a, 1);
                diagram.Ray((0, 0), a + b, 1);
                diagram.Ray((0, 0), 90, 1);
                diagram.Angle((0, 0), 0, a, isUnknown: false);
                diagram.Angle((0, 0), a, b, isUnknown: false);
                diagram.Angle((0, 0), a + b, x, isUnknown: true);
                break;

            case GeometryKind.ExteriorAngle:
                {
                    rotationDegrees = 0;
                    double interiorB = 180 - a - b;
                    var (ax, ay) = ImageCanvas.Direction(a);
                    double sideAc = Math.Sin(interiorB * Math.PI / 180) / Math.Sin((a + interiorB) * Math.PI / 180);
                    (double, double) pa = (0, 0), pb = (1, 0), pc = (ax * sideAc, ay * sideAc), pd = (1.6, 0);
                    diagram.Segment(pa, pb);
                    diagram.Segment(pb, pc);
                    diagram.Segment(pc, pa);
                    diagram.Segment(pb, pd);
                    diagram.Angle(pa, 0, a, isUnknown: false);
                    diagram.Angle(pc, 180 + a, b, isUnknown: false);
                    diagram.Angle(pb, 0, x, isUnknown: true);
                    break;
                }

            default:
                throw new ArgumentOutOfRangeException(nameof(problem), problem.Kind, "Unknown geometry kind.");
        }

        return diagram.Render(ImageSize, rotationDegrees, mirror);
    }

    /// <summary>Known angles uniform over the multiples of 5 the kind accepts.</summary>
    private static GeometryProblem SampleProblem(ExampleRandom random, GeometryKind kind)
    {
        var (min, max) = GeometryProblem.KnownAngleRange(kind);
        while (true)
        {
            int a = random.NextInclusive(min / 5, max / 5) * 5, b = random.NextInclusive(min / 5, max / 5) * 5;
            if (GeometryProblem.IsDrawable(kind, a, b))
            {
                return new GeometryProblem(kind, a, b);
            }
        }
    }
}
