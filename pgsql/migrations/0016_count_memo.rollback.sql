DROP TABLE public.gallery_count_memo;
DROP SEQUENCE public.gallery_count_memo_fills;
