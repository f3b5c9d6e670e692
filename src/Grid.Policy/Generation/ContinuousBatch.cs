using Grid.Policy.Model;
using Grid.Policy.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Grid.Policy.Generation;

/// <summary>
/// Continuous batching over one KV cache: requests join while earlier ones are still decoding, and every
/// <see cref="Step"/> samples one token for every row. Newcomers are prefilled on their own and appended to the cache
/// aligned to its end (the slots before them masked out), so each row computes what it would alone; finished rows
/// are dropped once they are half the batch, and slots no remaining row uses are trimmed from the front.
/// Sampling is per row on the CPU with the row's own SplitMix64 seeded from its request, so a completion never
/// depends on its batch mates or on when it joined.
/// <para>
/// Owned by ONE thread: every call runs synchronously under inference_mode on the caller's thread (a rollout engine's
/// thread, or <see cref="Generator.Generate(PolicyModel, IReadOnlyList{GenerationRequest}, GenerationSettings, bool)"/>).
/// Dispose it on that thread.
/// </para>
/// </summary>
public sealed class ContinuousBatch : IDisposable
{
    private readonly PolicyModel _policy;
    private readonly GenerationSettings _settings;
    private readonly bool _stopAtEos;
    private readonly int _maxRows;
    private readonly int _maxSlots;
    private readonly int[] _scratch;
    private readonly List<Row> _rows = new(); // cache row i is _rows[i]
    private KvCache? _cache;
    private Tensor? _logits; // [rows, vocab]: next-token logits of every cache row

    /// <param name="maxRows">Most sequences decoded at once (finished rows not yet dropped count too).</param>
    /// <param name="stopAtEos">False keeps sampling past EOS (for throughput measurements).</param>
    public ContinuousBatch(PolicyModel policy, GenerationSettings settings, int maxRows, bool stopAtEos = true)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        _policy = policy;
        _settings = settings;
        _stopAtEos = stopAtEos;
        _maxRows = maxRows;
        _maxSlots = 2 * (policy.PrefixLength + policy.MaxTextLength); // slot budget per row: bounds the cache's memory
        _scratch = new int[policy.VocabSize];
    }

    public PolicyModel Policy => _policy;

    public GenerationSettings Settings => _settings;

    /// <summary>Rows still decoding.</summary>
    public int LiveRows => _rows.Count(r => !r.Finished);

    public bool IsEmpty => _cache is null;

    /// <summary>Whether <paramref name="requests"/> can join now (row and slot budget); a request that never fits is refused by <see cref="Admit"/>.</summary>
    public bool CanAdmit(IReadOnlyList<GenerationRequest> requests)
    {
        ArgumentNullException.ThrowIfNull(requests);
        if (requests.Count == 0)
        {
            return true;
        }

        if (_cache is null)
        {
            return requests.Count <= _maxRows;
        }

        int longest = requests.Max(r => r.PromptTokens.Length);
        return _rows.Count + requests.Count <= _maxRows
            && _policy.PrefixLength + longest <= _cache.Length
            && _cache.Length + _settings.MaxNewTokens - 1 <= _maxSlots;
    }

    /// <summary>
    /// Prefills <paramref name="requests"/> and adds them to the batch; <paramref name="owner"/> comes back with each
    /// of their results from <see cref="Step"/>. Check <see cref="CanAdmit"/> first when the batch is not empty.
    /// </summary>
    public void Admit(IReadOnlyList<GenerationRequest> requests, object owner)
    {
        ArgumentNullException.ThrowIfNull(requests);
        Admit([new AdmittedGroup(requests, owner)]);
    }

    /// <summary>
    /// Admits several groups with ONE prefill (one batched call is much cheaper than one per group); each group's
    /// owner comes back with its results. Check <see cref="CanAdmit"/> with all their requests first.
    /// </summary>
    public void Admit(IReadOnlyList<AdmittedGroup> groups)
    {
        ArgumentNullException.ThrowIfNull(groups);
        var requests = groups.SelectMany(g => g.Requests).ToArray();
        int longest = Validate(requests);
        if (requests.Length == 0)
        {
            return;
        }

        if (!CanAdmit(requests))
        {
            throw new InvalidOperationException(
                $"{requests.Length} rows with prompts of up to {longest} tokens cannot join this batch now ({_rows.Count} of "
                + $"{_maxRows} rows taken); wait until it drains.");
        }

        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        int capacity = _policy.PrefixLength + longest + _settings.MaxNewTokens - 1;
        var cache = _policy.NewCache(requests.Length, capacity);
        var logits = _policy.Prefill(requests, longest, cache);
        if (_cache is null)
        {
            _cache = cache;
            _logits = logits.DetachFromDisposeScope();
        }
        else
        {
            using (cache)
            {
                _cache.Grow(_cache.Length + _settings.MaxNewTokens - 1);
                _cache.AppendAligned(cache);
            }

            var joined = cat([_logits!, logits], 0).DetachFromDisposeScope();
            _logits!.Dispose();
            _logits = joined;
        }

        int start = _cache.Length - cache.Length;
        foreach (var group in groups)
        {
            for (int i = 0; i < group.Requests.Count; i++)
            {
                _rows.Add(new Row(group.Requests[i], i, group.Owner, start, _settings.MaxNewTokens));
            }
        }
    }

    /// <summary>
    /// Samples one token for every live row and feeds it back; returns the requests that finished with this token
    /// (owner, the request's index in its <see cref="Admit"/> call, its result).
    /// </summary>
    public IReadOnlyList<FinishedRequest> Step()
    {
        if (_cache is null)
        {
            return [];
        }

        int vocab = _policy.VocabSize;
        var finished = new List<FinishedRequest>();
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var scaled = _settings.Temperature == 1.0 ? _logits! : _logits! / _settings.Temperature;
        float[] logProbs = scaled.to_type(ScalarType.Float32).log_softmax(-1).cpu().data<float>().ToArray();
        for (int i = 0; i < _rows.Count; i++)
        {
            var row = _rows[i];
            if (row.Finished)
            {
                continue;
            }

            var distribution = logProbs.AsSpan(i * vocab, vocab);
            int token = _settings.Greedy
                ? Generator.ArgMax(distribution)
                : Generator.SampleTopP(distribution, _settings.TopP, row.Random.NextDouble(), _scratch);
            row.Tokens.Add(token);
            row.LogProbs.Add(distribution[token]);
            bool eos = _stopAtEos && _policy.IsEndOfCompletion(token);
            if (eos || row.Tokens.Count == _settings.MaxNewTokens)
            {
                row.Finished = true;
                finished.Add(new FinishedRequest(row.Owner, row.Index,
                    new GenerationResult([.. row.Tokens], [.. row.LogProbs], eos)));
            }
        }

        if (_rows.All(r => r.Finished))
        {
            Reset();
            return finished;
        }

        DropFinishedRows();
        var tokens = new long[_rows.Count];
        var positions = new long[_rows.Count];
        for (int i = 0; i < _rows.Count; i++)
        {
            var row = _rows[i];
            tokens[i] = row.Finished ? _policy.PadId : row.Tokens[^1];
            positions[i] = row.Request.PromptTokens.Length + Math.Max(0, row.Tokens.Count - 1);
        }

        var device = _policy.Device;
        var next = _policy.DecodeStep(tensor(tokens, device: device), tensor(positions, device: device), _cache)
            .DetachFromDisposeScope();
        _logits!.Dispose();
        _logits = next;
        return finished;
    }

    public void Dispose() => Reset();

    /// <summary>Once finished rows are at least half the batch: fewer rows, cheaper steps; then trims unused slots.</summary>
    private void DropFinishedRows()
    {
        int live = LiveRows;
        if (live > _rows.Count / 2)
        {
            return;
        }

        var keep = Enumerable.Range(0, _rows.Count).Where(i => !_rows[i].Finished).ToArray();
        _cache!.KeepRows(keep.Select(i => (long)i).ToArray());
        using (var index = tensor(keep.Select(i => (long)i).ToArray(), device: _logits!.device))
        {
            var kept = _logits.index_select(0, index).DetachFromDisposeScope();
            _logits.Dispose();
            _logits = kept;
        }

        var rows = keep.Select(i => _rows[i]).ToArray();
        _rows.Clear();
        _rows.AddRange(rows);
        int unused = _rows.Min(r => r.Start);
        if (unused > 0)
        {
            _cache.TrimFront(unused);
            foreach (var row in _rows)
            {
                row.Start -= unused;
            }
        }
    }

    /// <summary>Checks every request against the policy; returns the longest prompt.</summary>
    private int Validate(IReadOnlyList<GenerationRequest> requests)
    {
        int longest = 0;
        for (int i = 0; i < requests.Count; i++)
        {
            var prompt = requests[i]?.PromptTokens ?? throw new ArgumentException($"Request {i} or its prompt is null.", nameof(requests));
            if (prompt.Length == 0)
            {
                throw new ArgumentException($"Request {i} has an empty prompt; it must start with BOS.", nameof(requests));
            }

            Tokenizer.EnsureInVocabulary(prompt, _policy.VocabSize, $"The prompt of request {i}");
            longest = Math.Max(longest, prompt.Length);
        }

        if (longest + _settings.MaxNewTokens > _policy.MaxTextLength)
        {
            throw new ArgumentException(
                $"A prompt of {longest} tokens + {_settings.MaxNewTokens} new tokens exceeds the policy's room for text " +
                $"({_policy.MaxTextLength} tokens).");
        }

        return longest;
    }

    private void Reset()
    {
        _logits?.Dispose();
        _logits = null;
        _cache?.Dispose();
        _cache = null;
        _rows.Clear();
    }

    private sealed class Row(GenerationRequest request, int index, object owner, int start, int maxNewTokens)
    {
        public GenerationRequest Request { get; } = request;

        public int Index { get; } = index;

        public object Owner { get; } = owner;

        /// <summary>The first cache slot this row uses (its first image patch).</summary>
        public int Start { get; set; } = start;

        public SplitMix64 Random { get; } = new(request.Seed);

        public List<int> Tokens { get; } = new(maxNewTokens);

        public List<float> LogProbs { get; } = new(maxNewTokens);

        public bool Finished { get; set; }
    }
}
