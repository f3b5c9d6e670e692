namespace Grid.Tasks.Geometry;

/// <summary>The diagram, which decides how the two known angles a and b give the unknown x.</summary>
public enum GeometryKind
{
    /// <summary>A triangle with a and b at two corners, x at the third: x = 180 - a - b.</summary>
    Triangle,

    /// <summary>Three rays from one point, the angles between them a, b and x: x = 360 - a - b.</summary>
    AroundPoint,

    /// <summary>A right angle split into a, b and x by two rays: x = 90 - a - b.</summary>
    RightAngleSplit,

    /// <summary>A triangle with one side extended; x is the exterior angle, a and b the remote interior angles:
    /// x = a + b.</summary>
    ExteriorAngle,
}
