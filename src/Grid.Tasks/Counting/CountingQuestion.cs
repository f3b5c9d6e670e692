namespace Grid.Tasks.Counting;

/// <summary>
/// "How many [size] [colour] objects/shapes?": each filter left null matches everything, so all three null asks
/// for every object.
/// </summary>
public sealed record CountingQuestion(ObjectColor? Color, ObjectShape? Shape, ObjectSize? Size)
{
    /// <summary>The question the policy reads, e.g. "How many small red circles?" (at most 30 characters).</summary>
    public string Text
    {
        get
        {
            var words = new List<string> { "How many" };
            if (Size is { } size)
            {
                words.Add(size.ToWord());
            }

            if (Color is { } color)
            {
                words.Add(color.ToWord());
            }

            words.Add(Shape is { } shape ? shape.ToPlural() : "objects");
            return string.Join(' ', words) + "?";
        }
    }

    public bool Matches(SceneObject item) =>
        (Color is null || Color == item.Color)
        && (Shape is null || Shape == item.Shape)
        && (Size is null || Size == item.Size);

    public int CountIn(IEnumerable<SceneObject> objects) => objects.Count(Matches);
}
