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

    /// <summary>Optional answer kind: auto (default), numeric, choice or text (see Rewards.AnswerRule).</summary>
    public const string AnswerKind = "answer_kind";

    /// <summary>Optional absolute tolerance of a numeric answer (default 0).</summary>
    public const string Tolerance = "tolerance";

    public const string ExampleRecord =
        """{"id":"counting-000001","task":"counting","question":"How many objects?","answer":"3","image":"images/"""
        + """counting-000001.png","reasoning":"A1 B2 C3 = 3"}""";
}

/// <summary>The fields of an R1-V / open-r1-multimodal record (one JSONL line).</summary>
public static class R1VFields
{
    /// <summary>Path of the image relative to the JSONL file's folder.</summary>
    public const string Image = "image";

    /// <summary>Accepted in place of <see cref="Image"/>.</summary>
    public const string ImagePath = "image_path";

    /// <summary>The question.</summary>
    public const string Problem = "problem";

    /// <summary>Text holding the ground truth in &lt;answer&gt;...&lt;/answer&gt; (optionally reasoning in &lt;think&gt;).</summary>
    public const string Solution = "solution";

    public const string ExampleRecord =
        """{"image":"images/0001.png","problem":"How many cubes are there?","solution":"<answer> 3 </answer>"}""";
}
