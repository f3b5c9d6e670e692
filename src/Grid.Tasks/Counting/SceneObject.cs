namespace Grid.Tasks.Counting;

/// <summary>One object of a counting scene, in pixel coordinates (y down).</summary>
/// <param name="Cell">The grid cell it sits in, named like a chess board seen from above: row letter A (top) to
/// C (bottom), column digit 1 (left) to 3 (right), e.g. "B2" for the centre.</param>
/// <param name="CenterX">Centre of the object's bounding box, in pixels from the left edge.</param>
/// <param name="CenterY">Centre of the object's bounding box, in pixels from the top edge.</param>
/// <param name="Radius">Half the side of the object's square bounding box; every painted pixel lies inside it.</param>
public sealed record SceneObject(
    ObjectShape Shape, ObjectColor Color, ObjectSize Size, string Cell, double CenterX, double CenterY, double Radius)
{
    public double Left => CenterX - Radius;

    public double Right => CenterX + Radius;

    public double Top => CenterY - Radius;

    public double Bottom => CenterY + Radius;

    /// <summary>Pixels of empty space between the bounding boxes of two objects; negative when they overlap.</summary>
    public double GapTo(SceneObject other) =>
        Math.Max(Math.Max(other.Left - Right, Left - other.Right), Math.Max(other.Top - Bottom, Top - other.Bottom));
}
