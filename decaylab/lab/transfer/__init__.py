"""Which λ at my scale: λ* measured in rounds (:mod:`.search`), along axes of a task (:mod:`.axes`), fitted
into laws with honest intervals beside the published rules (:mod:`.laws`, :mod:`.rules`), and checked on a
held-out setting (:mod:`.measure`), with advice only where that check passed (:mod:`.advice`)."""
