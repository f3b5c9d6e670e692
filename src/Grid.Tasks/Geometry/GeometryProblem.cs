namespace Grid.Tasks.Geometry;

/// <summary>One geometry question: a diagram kind and its two known angles, in degrees.</summary>
public sealed record GeometryProblem
{
    public GeometryProblem(GeometryKind kind, int a, int b)
    {
        var (min, max) = KnownAngleRange(kind);
        if (a < min || a > max || b < min || b > max)
        {
            throw new ArgumentOutOfRangeException(nameof(a), (a, b),
                $"A {kind} diagram takes known angles in {min}..{max} degrees; got {a} and {b}.");
        }

        int unknown = SolveFor(kind, a, b);
        if (unknown < MinUnknown(kind) || unknown > MaxUnknown(kind))
        {
            throw new ArgumentException(
                $"Angles {a} and {b} give x = {unknown} in a {kind} diagram, which cannot be drawn clearly; "
                + $"choose a and b so that {MinUnknown(kind)} <= x <= {MaxUnknown(kind)}.", nameof(b));
        }

        Kind = kind;
        A = a;
        B = b;
    }

    public GeometryKind Kind { get; }

    public int A { get; }

    public int B { get; }

    /// <summary>x, always a positive integer.</summary>
    public int Unknown => SolveFor(Kind, A, B);

    /// <summary>The same words for every kind, so only the diagram tells which relation holds.</summary>
    public string Question => $"Angles {A} and {B}. Find x.";

    /// <summary>The arithmetic, e.g. "180-40-30=110" or "40+30=70".</summary>
    public string Reasoning => Kind switch
    {
        GeometryKind.Triangle => $"180-{A}-{B}={Unknown}",
        GeometryKind.AroundPoint => $"360-{A}-{B}={Unknown}",
        GeometryKind.RightAngleSplit => $"90-{A}-{B}={Unknown}",
        GeometryKind.ExteriorAngle => $"{A}+{B}={Unknown}",
        _ => throw new InvalidOperationException($"Unknown geometry kind {Kind}."),
    };

    /// <summary>Known angles a kind accepts; all are drawn as multiples of 5.</summary>
    public static (int Min, int Max) KnownAngleRange(GeometryKind kind) => kind switch
    {
        GeometryKind.Triangle => (30, 110),
        GeometryKind.AroundPoint => (30, 170),
        GeometryKind.RightAngleSplit => (15, 60),
        GeometryKind.ExteriorAngle => (25, 100),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown geometry kind."),
    };

    /// <summary>Smallest x a kind allows, so that every angle of the diagram stays visible.</summary>
    public static int MinUnknown(GeometryKind kind) => kind switch
    {
        GeometryKind.Triangle => 30,
        GeometryKind.AroundPoint => 30,
        GeometryKind.RightAngleSplit => 15,
        // The triangle's interior angle at the extended corner is 180 - x; keep it >= 30.
        GeometryKind.ExteriorAngle => 40,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown geometry kind."),
    };

    /// <summary>Largest x a kind allows (only the exterior angle has a cap: its triangle must not be flat).</summary>
    public static int MaxUnknown(GeometryKind kind) => kind == GeometryKind.ExteriorAngle ? 150 : int.MaxValue;

    /// <summary>True when a and b are in the kind's range and leave a drawable x.</summary>
    public static bool IsDrawable(GeometryKind kind, int a, int b)
    {
        var (min, max) = KnownAngleRange(kind);
        int unknown = SolveFor(kind, a, b);
        return a >= min && a <= max && b >= min && b <= max && unknown >= MinUnknown(kind) && unknown <= MaxUnknown(kind);
    }

    /// <summary>The kind's relation: x from a and b.</summary>
    public static int SolveFor(GeometryKind kind, int a, int b) => kind switch
    {
        GeometryKind.Triangle => 180 - a - b,
        GeometryKind.AroundPoint => 360 - a - b,
        GeometryKind.RightAngleSplit => 90 - a - b,
        GeometryKind.ExteriorAngle => a + b,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown geometry kind."),
    };
}
