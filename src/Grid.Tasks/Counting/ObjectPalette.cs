using Grid.Tasks.Images;

namespace Grid.Tasks.Counting;

/// <summary>The pixels and words of object attributes. Colours are far apart in RGB so that no two can be confused,
/// and none is close to the background.</summary>
public static class ObjectPalette
{
    public static readonly Rgb Background = new(235, 235, 235);

    public static Rgb ToRgb(this ObjectColor color) => color switch
    {
        ObjectColor.Red => new Rgb(220, 30, 30),
        ObjectColor.Green => new Rgb(20, 160, 40),
        ObjectColor.Blue => new Rgb(30, 60, 230),
        ObjectColor.Yellow => new Rgb(240, 200, 0),
        _ => throw new ArgumentOutOfRangeException(nameof(color), color, "Unknown object colour."),
    };

    public static string ToWord(this ObjectColor color) => color.ToString().ToLowerInvariant();

    public static string ToWord(this ObjectSize size) => size.ToString().ToLowerInvariant();

    /// <summary>The plural noun used in questions: "circles", "squares", "triangles".</summary>
    public static string ToPlural(this ObjectShape shape) => shape.ToString().ToLowerInvariant() + "s";
}
