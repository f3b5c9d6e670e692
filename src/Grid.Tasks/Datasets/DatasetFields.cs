namespace Grid.Tasks.Datasets;

/// <summary>The JSON field names of one dataset record (one line of the JSONL file).</summary>
public static class DatasetFields
{
    public const string Id = "id";
    public const string Task = "task";
    public const string Question = "question";
    public const string Answer = "answer";

    /// <summary>Path of a PNG relative to the JSONL file's folder, with forward slashes, e.g. "images/x.png".</summary>
    public const string Image = "image";

    /// <summary>Optional reference reasoning; empty when absent.</summary>
    public const string Reasoning = "reasoning";

    public const string ExampleRecord =
        """{"id":"counting-000001","task":"counting","question":"How many objects?","answer":"3","image":"images/"""
        + """counting-000001.png","reasoning":"A1 B2 C3 = 3"}""";
}
