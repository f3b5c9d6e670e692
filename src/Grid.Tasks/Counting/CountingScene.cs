namespace Grid.Tasks.Counting;

/// <summary>What a counting example shows and asks, before rendering: tests check the image against it.</summary>
/// <param name="Objects">The objects, in reading order of their cells (A1, A2, ..., C3).</param>
public sealed record CountingScene(int ImageSize, IReadOnlyList<SceneObject> Objects, CountingQuestion Question)
{
    public IEnumerable<SceneObject> Matching => Objects.Where(Question.Matches);

    public int Answer => Question.CountIn(Objects);

    /// <summary>The cells of the matching objects in reading order, then the count: "A1 B3 C2 = 3", or "none = 0".</summary>
    public string Reasoning
    {
        get
        {
            var cells = Matching.Select(o => o.Cell).ToList();
            return $"{(cells.Count == 0 ? "none" : string.Join(' ', cells))} = {cells.Count}";
        }
    }
}
